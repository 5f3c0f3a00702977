Feature: Service quality judged over time, in plan-do-check-act cycles
  A community service is held to a standard, cycle after cycle: the provider records the service,
  residents file requests and rate what they received, the indicators are computed and classified
  against their targets, and every missed indicator gets a corrective action whose effect the
  committee verifies. An indicator missed twice in a row goes up to the street office. Residents
  benefit from a service that is measured rather than argued about; the committee and the street
  office from a report that shows, per indicator, where quality is heading.
  Everything goes through the HTTP API with the members' API tokens; only the clock is moved by
  hand, and due timers are fired the way the `yishi worker` fires them.

  Background:
    Given the community "harmony" with the provider "Wang Repairs" and the street office "Street office"

  Scenario: Three cycles of repairs: satisfaction missed, missed again and escalated, then met
    When the chair starts a series for "Repairs in buildings 1-6" with cycles of 30 days and these indicators:
      | key          | name                      | kind       | source       | metric         | unit | target | direction | near_margin | threshold  | percentile |
      | satisfaction | Resident satisfaction     | share      | ratings      |                | %    | 85     | at_least  | 5           | at_least 4 |            |
      | response     | Repair response time, P90 | percentile | measurements | response_hours | h    | 24     | at_most   | 4           |            | 90         |
    Then the open tasks are "service_period"
    And the service period of cycle 1 ends by itself at 2026-04-01T01:00:00+00:00
    When the provider records repairs for alice, bob, carol and the chair
    And the provider uploads the response times "6, 10, 20" as CSV
    And bob complains "The plumber came two days late."
    And the provider answers bob's complaint "Sorry: we were short of staff that week."
    And the cycle's time is up and the worker fires the due timers
    Then the open tasks are "rating_window"
    When the residents rate the service:
      | resident | score | comment                    |
      | alice    | 5     | Quick and tidy.            |
      | bob      | 2     | Two days late.             |
      | carol    | 3     |                            |
      | chair    | 4     | Fine.                      |
    And the rating window ends and the worker fires the due timers
    Then the indicators of cycle 1 are:
      | indicator    | value | status | escalated |
      | satisfaction | 50    | missed | no        |
      | response     | 20    | met    | no        |
    And the open tasks are "assign_actions"
    When the chair assigns "Train the repair team in customer care" to the provider for "satisfaction"
    And the chair completes "assign_actions"
    And the provider reports the action done: "Two customer-care sessions held."
    And the provider completes "carry_out_actions"
    And the chair verifies the action as effective: "Fewer complaints since the sessions."
    And the chair completes "verify_actions"
    Then cycle 2 is in its service period, with the same standard

    When the provider records repairs for alice, bob, carol and the chair
    And the provider uploads the response times "5, 9, 18" as CSV
    And the cycle's time is up and the worker fires the due timers
    And the residents rate the service:
      | resident | score | comment                  |
      | alice    | 5     |                          |
      | bob      | 4     | Better.                  |
      | carol    | 4     |                          |
      | chair    | 2     | Still waited three days. |
    And the rating window ends and the worker fires the due timers
    Then the indicators of cycle 2 are:
      | indicator    | value | status | escalated |
      | satisfaction | 75    | missed | yes       |
      | response     | 18    | met    | no        |
    And the open tasks are "assign_actions, street_office_review"
    And the street office has the task "street_office_review" to do
    When the chair tries to complete "street_office_review"
    Then the request is refused with 403 "forbidden"
    When the street office responds "We will meet the provider's management next week."
    And the chair assigns "Add a second plumber on weekdays" to the provider for "satisfaction"
    And the chair completes "assign_actions"
    And the provider reports the action done: "A second plumber works Monday to Friday."
    And the provider completes "carry_out_actions"
    And the chair verifies the action as effective: "Repairs now start the same day."
    And the chair completes "verify_actions"
    Then cycle 3 is in its service period, with the same standard

    When the provider records repairs for alice, bob, carol and the chair
    And the provider uploads the response times "4, 6, 11" as CSV
    And the cycle's time is up and the worker fires the due timers
    And the residents rate the service:
      | resident | score | comment      |
      | alice    | 5     |              |
      | bob      | 5     | Much better. |
      | carol    | 4     |              |
      | chair    | 4     |              |
    And the rating window ends and the worker fires the due timers
    Then the indicators of cycle 3 are:
      | indicator    | value | status | escalated |
      | satisfaction | 100   | met    | no        |
      | response     | 11    | met    | no        |
    And cycle 4 is in its service period, with the same standard
    And the series report reads:
      | indicator    | values       | statuses            | trend     |
      | satisfaction | 50, 75, 100  | missed, missed, met | improving |
      | response     | 20, 18, 11   | met, met, met       | improving |
    And the report counts no open corrective actions and 100 % of the requests answered in time
    And the chart of "satisfaction" is a PNG image of 640 by 360 pixels
    And the CSV report has one line per cycle and indicator, cycle 4's without values

  Scenario: A CSV upload with bad rows is refused as a whole, each bad row named by its line
    Given a series whose first cycle is in its service period
    When the provider uploads these service records as CSV:
      """
      served_at,subject,resident_id,description
      2026-03-02T15:00,flat 3-402,,Tap fixed
      not a date,flat 3-403,,
      2026-03-02T15:30,,,Door
      """
    Then the request is refused with 422 "invalid_input"
    And the errors name the rows and fields "3 served_at, 4 subject"
    And the cycle has no service records
    When alice uploads the same records as CSV
    Then the request is refused with 403 "forbidden"
