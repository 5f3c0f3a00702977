Feature: Community votes, from the configuration to a result anyone can check
  The residents' committee puts a question to a vote: it chooses the method and the options, the
  rule that decides the result, whether the ballot is secret, who may vote and the deadline.
  Opening the vote freezes the electorate. Voters cast their ballots online and keep a receipt;
  committee tellers enter paper ballots for named voters. The vote closes at its deadline, when the
  committee closes it early, or as soon as everyone has voted; the tally is then published with
  its reasons in words, and a bulletin board lets every voter find their own ballot and anyone
  recount the result. Other processes call the vote and branch on its result.
  Everything below goes through the HTTP API with the members' API tokens; only the clock is
  moved by hand, and due timers are fired the way the `yishi worker` fires them.

  Background:
    Given the community "harmony" with these members:
      | member  | roles               |
      | chair   | committee, resident |
      | clerk   | committee           |
      | alice   | resident            |
      | bob     | resident            |
      | carol   | resident            |
      | auditor | auditor             |
      | admin   | admin               |

  Scenario: A secret yes/no vote meets its quorum and passes; until the close only the turnout is known
    Given the chair has started a vote
    When the chair configures the vote with:
      | field      | value                          |
      | title      | Stairwell colour               |
      | question   | Shall the stairwells be green? |
      | method     | yes_no_abstain                 |
      | rule       | {"quorum": {"share": "1/2"}}   |
      | secret     | true                           |
      | electorate | residents                      |
      | deadline   | 2026-03-09T18:00               |
    Then the request succeeds
    And the vote is open to 4 residents: "alice, bob, carol, chair"
    And the vote closes by itself at 2026-03-09T10:00:00+00:00
    When the voters cast their ballots:
      | voter | choice |
      | alice | yes    |
      | bob   | yes    |
      | carol | no     |
    Then the turnout shows 3 of 4 voted: 3 online and 0 on paper
    And nobody can see the result or the bulletin board yet, not even the admin
    And nobody can see who voted what
    When the clock reaches 2026-03-09T17:59+08:00 and the worker fires the due timers
    Then the vote is still open
    When the clock reaches 2026-03-09T18:01+08:00 and the worker fires the due timers
    Then the vote is closed and its process completed
    And the result is "passed"
    And the count is:
      | option  | votes |
      | yes     | 2     |
      | no      | 1     |
      | abstain | 0     |
    And the result explains "Quorum: 3 of 4 eligible residents (75%) took part; at least 1/2 was required — met."
    And the result explains "Threshold: yes had 2 of 3 yes/no votes (66.7%); more than 1/2 was required — met."
    And the process hands back the vote_result "passed" with the bulletin board's root
    And nobody can see who voted what

  Scenario Outline: The quorum decides whether the vote counts at all
    Given the chair has opened a vote with:
      | field | value                        |
      | rule  | {"quorum": {"share": "3/4"}} |
    When <voters> each vote "yes"
    And the deadline passes and the worker fires the due timers
    Then the vote is closed and its process completed
    And the result is "<outcome>"
    And the result explains "<quorum>"
    And the process hands back the vote_result "<outcome>" with the bulletin board's root

    Examples:
      | voters               | outcome | quorum                                                                                  |
      | alice and bob        | invalid | Quorum: 2 of 4 eligible residents (50%) took part; at least 3/4 was required — not met. |
      | alice, bob and carol | passed  | Quorum: 3 of 4 eligible residents (75%) took part; at least 3/4 was required — met.     |

  Scenario: Five options ranked with the Schulze method: an option nobody ranked first wins
    Given the chair has opened a vote with:
      | field    | value                               |
      | title    | Use of the empty lot                |
      | question | What should the empty lot become?   |
      | method   | schulze                             |
      | options  | park, gym, library, garden, parking |
      | rule     | {}                                  |
    When the voters cast their ballots:
      | voter | choice                              |
      | alice | park, garden, library, gym, parking |
      | bob   | gym, garden, library, parking, park |
      | carol | parking, garden, park, library, gym |
      | chair | library, gym, parking, garden, park |
    And the deadline passes and the worker fires the due timers
    Then the result is "passed" and the winner is "garden"
    And the Schulze ranking is "garden, library, gym, parking, park", with no tie and no lot
    And the result explains "Schulze order (strongest paths, winning votes): garden > library > gym > parking > park."
    And the process hands back the vote_result "passed" with the bulletin board's root

  Scenario: An owners' vote under Civil Code art. 278 passes by head count but fails by floor area
    Given the admin registers these owners:
      | owner | household | area |
      | wang  | 1-101     | 60   |
      | li    | 1-102     | 60   |
      | zhang | 1-201     | 60   |
      | zhao  | 1-301     | 200  |
      | sun   | 1-401     | 120  |
    And the chair has opened a vote with:
      | field      | value                                   |
      | title      | Roof garden                             |
      | question   | Shall part of the roof become a garden? |
      | rule       | {"preset": "civil_code_278"}            |
      | secret     | false                                   |
      | electorate | owners                                  |
    Then the vote is open to 5 owners holding 500 m²: "li, sun, wang, zhang, zhao"
    When the voters cast their ballots:
      | voter | choice |
      | wang  | yes    |
      | li    | yes    |
      | zhang | yes    |
      | zhao  | no     |
    Then the turnout shows 4 of 5 voted: 4 online and 0 on paper
    And the turnout weighs 380 of 500 m²
    And everyone sees who voted what:
      | voter | choice |
      | li    | yes    |
      | wang  | yes    |
      | zhang | yes    |
      | zhao  | no     |
    When the deadline passes and the worker fires the due timers
    Then the result is "rejected"
    And the rule's checks were:
      | check     | basis  | part | whole | met |
      | quorum    | heads  | 4    | 5     | yes |
      | quorum    | weight | 380  | 500   | yes |
      | threshold | heads  | 3    | 4     | yes |
      | threshold | weight | 180  | 380   | no  |
    And the result explains "Quorum: 4 of 5 eligible owners (80%) and 380 of 500 m² (76%) took part; at least 2/3 of each was required — met."
    And the result explains "Threshold: yes had 3 of 4 ballots cast including abstentions (75%) and 180 of 380 m² (47.4%); more than 1/2 of each was required — not met."
    And the bulletin board lists every counted ballot once, with its weight and no voter
    And the bulletin board's root is the Merkle root of its ballots, and the board verifies

  Scenario: A voter changes their secret ballot before the close; only the last one counts
    Given a secret yes/no vote of the residents is open until "2026-03-09T18:00"
    When the voters cast their ballots:
      | voter | choice |
      | alice | yes    |
      | bob   | no     |
    And alice tries to vote "no" again without her receipt
    Then the request is refused with 409 "conflict"
    And the error message says "send the receipt of your last ballot"
    When alice tries to vote "no" again with a receipt that is not hers
    Then the request is refused with 409 "conflict"
    When alice changes her ballot to "no" with her receipt
    Then she gets a new receipt
    And the turnout shows 2 of 4 voted: 2 online and 0 on paper
    When the deadline passes and the worker fires the due timers
    Then the count is:
      | option  | votes |
      | yes     | 0     |
      | no      | 2     |
      | abstain | 0     |
    And alice's receipt shows her ballot on the board as "no"
    And alice's first receipt is no longer on the board: it was replaced
    And the auditor reads these ballot events in the history, none with a choice:
      | type           | by    | voter |
      | ballot_cast    | alice |       |
      | ballot_cast    | bob   |       |
      | ballot_changed | alice |       |

  Scenario: A voter finds their receipt on the bulletin board, and anyone can recount it
    Given a secret yes/no vote of the residents is open until "2026-03-09T18:00"
    When the voters cast their ballots:
      | voter | choice  |
      | alice | yes     |
      | bob   | no      |
      | carol | abstain |
      | chair | yes     |
    Then alice's receipt shows her ballot recorded and current, but not its choice before the close
    When the deadline passes and the worker fires the due timers
    Then alice's receipt shows her ballot on the board as "yes"
    And the bulletin board lists every counted ballot once, with no voter
    And the bulletin board's root is the Merkle root of its ballots, and the board verifies
    And a receipt nobody was given is not found

  Scenario: The committee closes the vote early, giving its reason
    Given a secret yes/no vote of the residents is open until "2026-03-09T18:00"
    And the voters have cast their ballots:
      | voter | choice |
      | alice | yes    |
      | bob   | no     |
      | carol | yes    |
    When the chair tries to close the vote early without giving a reason
    Then the request is refused with 422 "invalid_input"
    And the errors name exactly the fields "reason"
    When alice tries to close the vote early because "I have voted."
    Then the request is refused with 403 "forbidden"
    When the chair closes the vote early because "The assembly decided on the spot."
    Then the request succeeds
    And the vote is closed and its process completed
    And the result is "passed"
    When the chair tries to vote "no"
    Then the request is refused with 409 "conflict"
    And the error message says "the vote is closed"
    When the clock reaches 2026-03-09T18:01+08:00 and the worker fires the due timers
    Then the worker has fired nothing

  Scenario: A vote set to close when everyone has voted closes with the last ballot
    Given the chair has opened a vote with:
      | field                | value |
      | close_when_all_voted | true  |
    When the voters cast their ballots:
      | voter | choice |
      | alice | yes    |
      | bob   | no     |
      | carol | no     |
    Then the vote is still open
    When the chair votes "yes"
    Then the vote is closed and its process completed
    And the result is "tie"
    When alice tries to vote "no" again with her receipt
    Then the request is refused with 409 "conflict"
    And the error message says "the vote is closed"
    And the vote's history ends with the engine delivering the message "all_voted" after the chair's ballot

  Scenario: A ballot after the deadline is refused, even before the worker has closed the vote
    Given a secret yes/no vote of the residents is open until "2026-03-09T18:00"
    And the voters have cast their ballots:
      | voter | choice |
      | alice | yes    |
    When the clock reaches 2026-03-09T18:00:01+08:00
    And bob tries to vote "yes"
    Then the request is refused with 409 "conflict"
    And the error message says "the vote is closed"
    And the turnout shows 1 of 4 voted: 1 online and 0 on paper
    When the worker fires the due timers
    Then the vote is closed and its process completed
    And the result is "passed"

  Scenario Outline: Only the electorate votes
    Given a secret yes/no vote of the residents is open until "2026-03-09T18:00"
    When <member> tries to vote "yes"
    Then the request is refused with 403 "forbidden"
    And the error message says "not in this vote's electorate"
    And <member> is told they may not vote
    And the turnout shows 0 of 4 voted: 0 online and 0 on paper

    Examples:
      | member      |
      | the clerk   |
      | the auditor |
      | the admin   |

  Scenario: A teller enters paper ballots; every voter has one ballot, online or on paper
    Given a secret yes/no vote of the residents is open until "2026-03-09T18:00"
    When the clerk enters bob's paper ballot "no"
    And bob tries to vote "yes"
    Then the request is refused with 409 "conflict"
    And the error message says "entered on paper"
    When alice votes "yes"
    And the clerk tries to enter alice's paper ballot "no"
    Then the request is refused with 409 "conflict"
    And the error message says "already voted"
    When carol tries to enter the chair's paper ballot "yes"
    Then the request is refused with 403 "forbidden"
    When the clerk corrects bob's paper ballot to "yes" with its receipt
    Then the turnout shows 2 of 4 voted: 1 online and 1 on paper
    And bob is told he voted on paper
    And the auditor reads these ballot events in the history, none with a choice:
      | type                   | by    | voter |
      | paper_ballot_entered   | clerk | bob   |
      | ballot_cast            | alice |       |
      | paper_ballot_corrected | clerk | bob   |
    When the deadline passes and the worker fires the due timers
    Then the count is:
      | option  | votes |
      | yes     | 2     |
      | no      | 0     |
      | abstain | 0     |
    And bob's paper receipt shows his ballot on the board as "yes"

  Scenario: In a public vote everyone sees who voted what, and the history says it too
    Given a public yes/no vote of the residents is open until "2026-03-09T18:00"
    When the voters cast their ballots:
      | voter | choice  |
      | alice | yes     |
      | bob   | no      |
      | carol | abstain |
    Then everyone sees who voted what:
      | voter | choice  |
      | alice | yes     |
      | bob   | no      |
      | carol | abstain |
    And the auditor reads these ballot events in the history, each with its choice:
      | type        | by    | choice  |
      | ballot_cast | alice | yes     |
      | ballot_cast | bob   | no      |
      | ballot_cast | carol | abstain |

  Scenario: A member of another community cannot see or touch the vote
    Given a public yes/no vote of the residents is open until "2026-03-09T18:00"
    And the voters have cast their ballots:
      | voter | choice |
      | alice | yes    |
    And the deadline passes and the worker fires the due timers
    When the chair of the community "riverside" tries each of these requests:
      | method | path                             |
      | GET    | /api/instances/{instance}/votes  |
      | GET    | /api/votes/{vote}                |
      | GET    | /api/votes/{vote}/electorate     |
      | GET    | /api/votes/{vote}/me             |
      | GET    | /api/votes/{vote}/turnout        |
      | GET    | /api/votes/{vote}/ballots        |
      | GET    | /api/votes/{vote}/result         |
      | GET    | /api/votes/{vote}/board          |
      | POST   | /api/votes/{vote}/ballots        |
      | POST   | /api/votes/{vote}/paper-ballots  |
      | POST   | /api/votes/{vote}/receipts/check |
    Then every one of them is refused with 404 "not_found"
    And the auditor of "harmony" gets each of the GET requests answered

  Scenario Outline: Another process calls the vote and takes the branch its result says
    Given the admin has deployed the test process "tests/vote_caller.bpmn"
    When the chair starts the process "vote_caller"
    Then the open tasks are "configure_vote"
    When the chair configures the called vote as a secret yes/no vote of the residents until "2026-03-09T18:00"
    Then the open tasks are "voting"
    When the voters cast their ballots:
      | voter | choice   |
      | alice | <alice>  |
      | bob   | <bob>    |
      | carol | <carol>  |
    And the deadline passes and the worker fires the due timers
    Then the open tasks are "<next_task>"
    And the calling process holds the vote_result "<outcome>" of the vote it opened

    Examples:
      | alice | bob | carol   | outcome  | next_task        |
      | yes   | yes | no      | passed   | act_on_it        |
      | yes   | no  | no      | rejected | record_rejection |
      | yes   | no  | abstain | tie      | record_rejection |
