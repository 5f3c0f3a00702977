Feature: A community consultation, from the topic to the published outcome
  The residents' committee puts a topic to the residents, who give their opinions until a
  deadline; the committee deliberates, answers every single opinion and publishes the outcome.
  Residents benefit from seeing that each of their opinions got an answer and a reason; the
  committee and the auditors from a complete history, in order, of who did what and when.
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

  Scenario: A whole consultation: opinions until the deadline, deliberation, an answer to each opinion, the outcome
    When the chair starts a consultation
    Then the open tasks are "draft_topic"
    When the chair drafts the topic "Bike shed by building 3" with the opinion deadline "2026-03-09T18:00"
    Then the request succeeds
    And the open tasks are "opinion_period"
    And the opinion period closes by itself at 2026-03-09T10:00:00+00:00
    When the residents give their opinions:
      | resident | opinion                      |
      | alice    | Next to the gate, please.    |
      | bob      | Behind building 3.           |
      | carol    | No shed at all.              |
      | carol    | Keep the lawn free of bikes. |
    And bob changes his opinion "Behind building 3." to "Behind building 3, with a roof."
    And carol withdraws her opinion "No shed at all."
    Then each resident sees only their own opinions:
      | resident | opinion                         | status    | revision |
      | alice    | Next to the gate, please.       | submitted | 1        |
      | bob      | Behind building 3, with a roof. | submitted | 2        |
      | carol    | No shed at all.                 | withdrawn | 1        |
      | carol    | Keep the lawn free of bikes.    | submitted | 1        |
    And bob cannot read the opinion "Next to the gate, please."
    And the clerk sees all 4 opinions
    When the clock reaches 2026-03-09T17:59+08:00 and the worker fires the due timers
    Then the worker has fired nothing
    And the open tasks are "opinion_period"
    When the clock reaches 2026-03-09T18:01+08:00 and the worker fires the due timers
    Then the worker has fired the timers of 1 consultation
    And the open tasks are "record_deliberation"
    And the consultation has no pending timers
    When alice tries to give the opinion "Is it too late?"
    Then the request is refused with 409 "conflict"
    When bob tries to change his opinion "Behind building 3, with a roof." to "Behind building 4."
    Then the request is refused with 409 "conflict"
    When the clerk records the deliberation meeting:
      | field        | value                                            |
      | meeting_date | 2026-03-10                                       |
      | attendees    | ["chair", "clerk", "alice", "bob"]               |
      | minutes      | Weighed the gate against the back of building 3. |
    Then the request succeeds
    And the open tasks are "answer_opinions"
    When the chair answers the opinions:
      | opinion                         | verdict        | reason                                        |
      | Next to the gate, please.       | adopted        | The gate is where most residents pass.        |
      | Behind building 3, with a roof. | partly_adopted | It will have a roof, but stand by the gate.   |
      | Keep the lawn free of bikes.    | not_adopted    | The shed takes no lawn; no rule is needed.    |
    And the chair completes "answer_opinions" with the note "Every opinion has its answer."
    Then the request succeeds
    And the open tasks are "publish_outcome"
    When the chair publishes the outcome "A roofed bike shed will be built by the gate."
    Then the request succeeds
    And the consultation is completed, with no open tasks
    And every resident reads the outcome "A roofed bike shed will be built by the gate."
    And each author sees the answer to their opinion:
      | resident | opinion                         | verdict        | reason                                      |
      | alice    | Next to the gate, please.       | adopted        | The gate is where most residents pass.      |
      | bob      | Behind building 3, with a roof. | partly_adopted | It will have a roof, but stand by the gate. |
      | carol    | Keep the lawn free of bikes.    | not_adopted    | The shed takes no lawn; no rule is needed.  |
      | carol    | No shed at all.                 | none           |                                             |
    And the auditor reads the history, in this order:
      | type              | by    | task                |
      | instance_started  | chair |                     |
      | task_completed    | chair | draft_topic         |
      | opinion_submitted | alice |                     |
      | opinion_submitted | bob   |                     |
      | opinion_submitted | carol |                     |
      | opinion_submitted | carol |                     |
      | opinion_edited    | bob   |                     |
      | opinion_withdrawn | carol |                     |
      | timers_fired      |       |                     |
      | task_completed    | clerk | record_deliberation |
      | opinion_answered  | chair |                     |
      | opinion_answered  | chair |                     |
      | opinion_answered  | chair |                     |
      | task_completed    | chair | answer_opinions     |
      | task_completed    | chair | publish_outcome     |

  Scenario Outline: Only the committee starts consultations and completes the committee's tasks
    Given the chair has started a consultation
    When <member> tries to complete "draft_topic" with a valid topic
    Then the request is refused with 403 "forbidden"
    And the error names the required role "committee"
    And the open tasks are "draft_topic"
    And <member> has no tasks to do, while the clerk has "draft_topic"
    When <member> tries to start a consultation
    Then the request is refused with 403 "forbidden"

    Examples:
      | member      |
      | alice       |
      | the auditor |

  Scenario: A member of another community cannot see or touch the consultation
    Given the opinion period is open until "2026-03-09T18:00"
    And the residents have given their opinions:
      | resident | opinion                   |
      | alice    | Next to the gate, please. |
    When the chair of the community "riverside" tries each of these requests:
      | method | path                               |
      | GET    | /api/instances/{instance}          |
      | GET    | /api/tasks/{task}                  |
      | POST   | /api/tasks/{task}/complete         |
      | GET    | /api/instances/{instance}/opinions |
      | POST   | /api/instances/{instance}/opinions |
      | GET    | /api/opinions/{opinion}            |
      | GET    | /api/instances/{instance}/events   |
    Then every one of them is refused with 404 "not_found"
    And the consultation's history has 3 events

  Scenario: An unanswered opinion blocks the end of the consultation
    Given the opinion period is open until "2026-03-09T18:00"
    And the residents have given their opinions:
      | resident | opinion                   |
      | alice    | Next to the gate, please. |
      | bob      | Behind building 3.        |
    And the deadline has passed and the worker has fired the due timers
    And the clerk has recorded the deliberation meeting
    When the chair answers the opinions:
      | opinion                   | verdict | reason                                 |
      | Next to the gate, please. | adopted | The gate is where most residents pass. |
    And the chair completes "answer_opinions" with the note "Done, I think."
    Then the request is refused with 409 "conflict"
    And the error message says "1 opinion is still unanswered"
    And the open tasks are "answer_opinions"
    When the chair answers the opinions:
      | opinion            | verdict     | reason                                 |
      | Behind building 3. | not_adopted | Building 3's back door is a fire exit. |
    And the chair completes "answer_opinions" with the note "Now every opinion has its answer."
    Then the request succeeds
    And the open tasks are "publish_outcome"

  Scenario: Two committee members complete the same task at the same moment
    Given the chair has started a consultation
    When the chair and the clerk complete "draft_topic" at the same moment, each with their own topic
    Then exactly one of them succeeds and the other is refused with 409 "conflict"
    And the refusal says the task was completed meanwhile
    And the topic is the one of whoever succeeded
    And the history records "draft_topic" as completed exactly once, by whoever succeeded
    When the one who was refused sends the same request again
    Then the request is refused with 409 "conflict"
    And the error message says "not ready"

  Scenario: Invalid form data is refused with an error for each failing field
    Given the chair has started a consultation
    When the chair tries to complete "draft_topic" with:
      | field            | value                      |
      | title            |                            |
      | affected         | Residents of buildings 2-4 |
      | opinion_deadline | 2026-03-01T18:00           |
      | colour           | green                      |
    Then the request is refused with 422 "invalid_input"
    And the errors name exactly the fields "colour, description, opinion_deadline, title"
    And the open tasks are "draft_topic"
    And the consultation's history has 1 event

  Scenario: A malformed opinion is refused with the field at fault
    Given the opinion period is open until "2026-03-09T18:00"
    When alice tries to give the opinion "   "
    Then the request is refused with 422 "invalid_input"
    And the errors name exactly the fields "text"
    When alice sends the opinion "Next to the gate." with the extra field "mood"
    Then the request is refused with 422 "invalid_input"
    And the errors name exactly the fields "mood"

  Scenario Outline: The opinion deadline is read in the community's time zone (Asia/Shanghai) and must lie ahead
    Given the chair has started a consultation
    When the chair drafts the topic "Bike shed by building 3" with the opinion deadline "<deadline>"
    Then the response status is <status>
    And the pending timer falls due at <due_at>

    Examples:
      | deadline                  | status | due_at                    |
      | 2026-03-02T08:59          | 422    | nothing                   |
      | 2026-03-02T09:01          | 200    | 2026-03-02T01:01:00+00:00 |
      | 2026-03-02T09:01+00:00    | 200    | 2026-03-02T09:01:00+00:00 |
      | 2026-03-02T00:59Z         | 422    | nothing                   |

  Scenario: The committee closes the opinion period early, giving its reason
    Given the opinion period is open until "2026-03-09T18:00"
    And the residents have given their opinions:
      | resident | opinion                   |
      | alice    | Next to the gate, please. |
    When the chair tries to complete "opinion_period" with:
      | field  | value |
      | reason |       |
    Then the request is refused with 422 "invalid_input"
    And the errors name exactly the fields "reason"
    When the chair closes the opinion period early because "Every household has been heard."
    Then the request succeeds
    And the open tasks are "record_deliberation"
    And the consultation has no pending timers
    When bob tries to give the opinion "Wait for me!"
    Then the request is refused with 409 "conflict"
    When the clock reaches 2026-03-09T18:01+08:00 and the worker fires the due timers
    Then the worker has fired nothing
    And the auditor reads the history, in this order:
      | type              | by    | task           |
      | instance_started  | chair |                |
      | task_completed    | chair | draft_topic    |
      | opinion_submitted | alice |                |
      | task_completed    | chair | opinion_period |

  Scenario Outline: A request without a valid API token is refused
    When someone lists the consultations with <credentials>
    Then the request is refused with 401 "unauthenticated"
    And the response asks for a bearer token

    Examples:
      | credentials                        |
      | no Authorization header            |
      | the bearer token "ys_not-a-token"  |
      | an empty bearer token              |
      | alice's token in a Basic header    |

  Scenario: The health check and the API description need no token
    When someone without a token asks for "/api/health"
    Then the response status is 200
    And the response says the status is "ok"
    When someone without a token asks for "/api/openapi.json"
    Then the response status is 200
    And the API description documents "/api/tasks/{task_id}/complete"
