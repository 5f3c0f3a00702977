"""Convention drafting (社区公约): versioned texts, amendments and their decisions, comments, adoption.

The convention process (``processes/convention.bpmn``) calls the service operations registered
here, so every step of a round — opening it on a draft, closing the amendment period,
consolidating the decided amendments into the next version, ending the public notice,
recording the adoption vote, adopting or closing the round — changes the convention's rows
inside the command that moves the process, and is recorded (with the fingerprint of any text it
publishes) in that command's event. Amendments, support and comments are domain commands: rows
of their own, accepted only while the round's amendment task ``collects`` amendments and before
its deadline; the committee decides amendments only while a task collects
``amendment_decisions``. Everything is public to the community: residents see every amendment
and every decision, with its reason.
"""
