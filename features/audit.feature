Feature: Auditing a community's history: know, not trust, that what was shown is what happened
  An auditor takes the whole history of the community as one file — a bundle of every event,
  hash-chained, the records the events wrote, and the checkpoints the deployment signed — and
  checks it offline, with no database and no server. A copy changed by anyone is rejected, and
  the rejection says what was changed. The auditor can also see any instance as it was after
  any event. Residents can take a public bundle, which withholds personal data and still
  verifies. Auditors read everything of their community, and change nothing.

  Background:
    Given the community "harmony" has held a consultation whose opinion period closed at its deadline

  Scenario: An auditor exports the bundle, verifies it offline, catches a tampered copy and travels back to the deadline
    When the auditor downloads the community's full audit bundle
    Then the bundle comes as a file to save
    And the saved bundle verifies offline against the deployment's published key
    When someone changes the opinion "By the gate." to "Nowhere." in a copy of the bundle
    Then the copy is rejected offline, naming opinion "By the gate." as changed after it was written
    When the auditor reads the consultation as of its opinion deadline
    Then the open tasks then were "record_deliberation", and the timer "opinion_deadline_reached" had fired
    And the state then is the one the history recorded

  Scenario: A resident takes a public bundle, which verifies and holds no personal data
    When alice downloads the community's public audit bundle
    Then the bundle comes as a file to save
    And the saved bundle verifies offline against the deployment's published key
    And the bundle holds no salt, no actor, no command input and no personal field

  Scenario: A resident cannot take a full bundle
    When alice asks for the community's full audit bundle
    Then the request is refused with 403 "forbidden"

  Scenario Outline: An auditor reads everything and changes nothing
    When the auditor tries to <change>
    Then the request is refused with 403 "forbidden"
    And the consultation's history is unchanged

    Examples:
      | change                         |
      | start a consultation           |
      | answer the opinion "No shed."  |
      | give the opinion "Me too."     |

  Scenario: Another community's auditor finds nothing of it
    When the auditor of the community "riverside" tries each of these requests:
      | method | path                                        |
      | GET    | /api/audit/bundle?instance={instance}       |
      | POST   | /api/audit/verify                           |
      | GET    | /api/instances/{instance}/replay            |
      | GET    | /api/instances/{instance}/as-of/1           |
    Then every one of them is refused with 404 "not_found"
