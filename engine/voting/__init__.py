"""Votes (表决): electorates frozen from the community register, ballots kept apart from who
cast them, receipts, paper ballots entered by tellers, and the bulletin board.

The vote process (``processes/vote.bpmn``) calls two service operations registered here:
``vote.open`` freezes the electorate and opens the ballot box, ``vote.close`` seals it and
publishes the tally. Casting a ballot is a domain command: rows of its own, never task data, so
its cost does not grow with the electorate, and an event in the instance's history that — in a
secret vote — says who voted but never what.
"""
