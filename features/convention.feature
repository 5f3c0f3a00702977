Feature: Drafting a community convention in rounds, amended by the residents and adopted by vote
  The residents' committee drafts a community convention (社区公约) with the residents. A round opens
  on a draft; until the amendment deadline residents propose amendments to its articles, support
  each other's and comment; the committee decides every amendment with a reason; the accepted ones
  make the next version, which goes on public notice and then to an adoption vote. Residents
  benefit from seeing every amendment and decision, and exactly what each round changed, word by
  word (character by character in Chinese); everybody from a history that reads back in order, with
  the fingerprint of every published text.
  Everything goes through the HTTP API with the members' API tokens; only the clock is moved by
  hand, and due timers are fired the way the `yishi worker` fires them.

  Background:
    Given the community "harmony" where the chair and the clerk are the committee and alice, bob and carol residents

  Scenario: Two rounds, a failed vote, a passed one, publication, and later an amendment of the adopted text
    When the chair opens the drafting of "邻里公约" with amendments until "2026-03-09T18:00" and 3 days of notice:
      | article | text                                   |
      | a1      | 晚上十点后不得大声喧哗。                 |
      | a2      | Keep the stairwells clear of bicycles. |
      | a3      | 宠物狗出门须拴绳。                       |
    Then round 1 is "amending" on version 1
    When the residents propose these amendments to version 1:
      | ref | resident | kind    | article  | text                                 | rationale                   |
      | A   | alice    | replace | a1       | 晚上十一点后禁止喧哗。                 | 十点太早，很多人还没下班。     |
      | B   | bob      | insert  | after a2 | Bicycles go in the shed by the gate. | Say where they should go.   |
      | C   | carol    | delete  | a3      |                                      | A city rule already covers it. |
    And bob and carol support amendment A
    And alice comments on article a3 of version 1: "拴绳对孩子更安全。"
    Then every resident sees the 3 amendments, amendment A with 2 supporters
    When the clock reaches 2026-03-09T18:01+08:00 and the worker fires the due timers
    Then round 1 is "reviewing" on version 1
    When the chair tries to finish the review
    Then the request is refused with 409 "conflict"
    And the error message says "3 amendments are still undecided"
    When the chair decides the amendments:
      | ref | outcome               | reason                                      | wording                                           |
      | A   | accepted              | 多数居民赞成。                                |                                                   |
      | B   | accepted_with_changes | The shed has room; the text says which one. | Bicycles are parked in the shed by the east gate. |
      | C   | rejected              | Leashes keep children safe; the rule stays. |                                                   |
    And the chair finishes the review
    Then round 1 is "notice" on version 1, consolidated into version 2
    And the diff from version 1 to version 2 reads:
      | article | status    | changes                                                     |
      | a1      | changed   | 晚上十{+一+}点后[-不得大声-]{+禁止+}喧哗。                       |
      | a2      | unchanged | Keep the stairwells clear of bicycles.                      |
      | a4      | added     | {+Bicycles are parked in the shed by the east gate.+}       |
      | a3      | unchanged | 宠物狗出门须拴绳。                                            |
    And every resident sees the committee's decision and its reason on each amendment
    When the public notice ends and the chair puts version 2 to a vote until "2026-03-15T18:00" with the rule "two_thirds"
    And the residents vote: alice "yes", bob "no", carol "no"
    And the clock reaches 2026-03-15T18:01+08:00 and the worker fires the due timers
    Then round 1 is "rejected" with the vote's outcome "rejected"
    When the chair decides on another round because "Residents want a later quiet hour."
    And the chair opens round 2 on the current text, with amendments until "2026-03-20T18:00" and 3 days of notice
    Then round 2 is "amending" on version 2
    When the residents propose these amendments to version 2:
      | ref | resident | kind    | article | text                 | rationale                |
      | D   | carol    | replace | a1      | 晚上十点半后禁止喧哗。 | 十一点太晚，十点半折中。    |
    And the clock reaches 2026-03-20T18:01+08:00 and the worker fires the due timers
    And the chair decides the amendments:
      | ref | outcome  | reason             | wording |
      | D   | accepted | 折中方案得到支持。    |         |
    And the chair finishes the review
    Then round 2 is "notice" on version 2, consolidated into version 3
    And the diff from version 1 to version 3 reads:
      | article | status    | changes                                               |
      | a1      | changed   | 晚上十点{+半+}后[-不得大声-]{+禁止+}喧哗。                |
      | a2      | unchanged | Keep the stairwells clear of bicycles.                |
      | a4      | added     | {+Bicycles are parked in the shed by the east gate.+} |
      | a3      | unchanged | 宠物狗出门须拴绳。                                      |
    When the public notice ends and the chair puts version 3 to a vote until "2026-03-26T18:00" with the rule "two_thirds"
    And the residents vote: alice "yes", bob "yes", carol "yes"
    And the clock reaches 2026-03-26T18:01+08:00 and the worker fires the due timers
    Then round 2 is "passed" with the vote's outcome "passed"
    When the chair publishes the convention, effective from "2026-04-01"
    Then the convention is adopted: version 3 is in force from 2026-04-01
    And every resident reads the adopted text, whose fingerprint they can recompute
    And every version's fingerprint, and the adopted text's, is in the history
    And alice reads the history of the convention, in this order:
      | type                    | by    | what                    |
      | round_opened            | chair | round 1, new version 1  |
      | amendment_proposed      | alice | A                       |
      | amendment_proposed      | bob   | B                       |
      | amendment_proposed      | carol | C                       |
      | amendment_supported     | bob   | A                       |
      | amendment_supported     | carol | A                       |
      | comment_added           | alice | a3                      |
      | amendment_period_closed |       | round 1                 |
      | amendment_decided       | chair | A accepted              |
      | amendment_decided       | chair | B accepted_with_changes |
      | amendment_decided       | chair | C rejected              |
      | version_consolidated    | chair | new version 2           |
      | public_notice_ended     |       | round 1                 |
      | vote_recorded           |       | rejected                |
      | round_closed            | chair | another_round           |
      | round_opened            | chair | round 2, version 2      |
      | amendment_proposed      | carol | D                       |
      | amendment_period_closed |       | round 2                 |
      | amendment_decided       | chair | D accepted              |
      | version_consolidated    | chair | new version 3           |
      | public_notice_ended     |       | round 2                 |
      | vote_recorded           |       | passed                  |
      | convention_adopted      | chair | version 3               |
    When the clock reaches 2026-06-01T09:00+08:00 and the chair starts amending the convention, from its adopted text, with amendments until "2026-06-15T18:00"
    Then round 3 is "amending" on version 3
    When alice tries to propose replacing article a1 as she read it in version 1 with "晚上九点后禁止喧哗。"
    Then the request is refused with 409 "stale_version"
    And the error message says "article a1 has changed since version 1"
    And the error gives the current text of article a1 in version 3: "晚上十点半后禁止喧哗。"
    When the residents propose these amendments to version 3:
      | ref | resident | kind    | article | text               | rationale        |
      | E   | alice    | replace | a1      | 晚上十点后禁止喧哗。 | 试行后觉得太晚了。 |
    Then every resident sees the 5 amendments, amendment E with 0 supporters

  Scenario: An amendment after the deadline is refused, even before the worker has closed the period
    Given the chair has opened the drafting with amendments until "2026-03-09T18:00"
    And the residents have proposed these amendments to version 1:
      | ref | resident | kind   | article | text | rationale                      |
      | A   | alice    | delete | a3      |      | A city rule already covers it. |
    When the clock reaches 2026-03-09T18:00:30+08:00, before the worker runs
    And bob tries to propose deleting article a2 of version 1
    Then the request is refused with 409 "conflict"
    And the error message says "the amendment period closed at 2026-03-09T10:00:00+00:00"
    When alice tries to withdraw amendment A
    Then the request is refused with 409 "conflict"
    When the worker fires the due timers
    Then round 1 is "reviewing" on version 1
    When bob tries to propose deleting article a2 of version 1
    Then the request is refused with 409 "conflict"
    And the error message says "no amendment period open"
    And every resident sees the 1 amendments, amendment A with 0 supporters

  Scenario Outline: Only the committee decides amendments
    Given the chair has opened the drafting with amendments until "2026-03-09T18:00"
    And the residents have proposed these amendments to version 1:
      | ref | resident | kind   | article | text | rationale                      |
      | A   | alice    | delete | a3      |      | A city rule already covers it. |
    And the clock reaches 2026-03-09T18:01+08:00 and the worker fires the due timers
    When <member> tries to decide amendment A "accepted" because "I like it."
    Then the request is refused with 403 "forbidden"
    And the error names the required role "committee"
    And amendment A is still undecided, and the history records no decision

    Examples:
      | member |
      | alice  |
      | bob    |
