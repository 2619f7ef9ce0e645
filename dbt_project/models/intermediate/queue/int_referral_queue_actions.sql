{#- The work-list action of each open referral (latest status active or
    on-hold), the first that applies (docs/metrics.md, marts.referral_queue):
    close_completed, close_leaked, none (upcoming), expire, reroute,
    follow_up, none. Directory-based rerouting needs providers data.
    Nothing here moves with T alone but at the dates int_referral_queue_scope
    finds (days_open is computed in marts.referral_queue): kept
    incrementally on DuckDB, a daily build computes the referrals in that
    scope again and replaces their rows (macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_referral_queue_scope') }}
{{ replace_scope_config('int_referral_queue_scope', 'referral_id') }}
with

referrals as (
    select * from {{ ref('int_referrals_eligible') }}
    {{ in_scope('referral_id', 'int_referral_queue_scope') }}
),

outcomes as (
    select * from {{ ref('int_referral_outcomes_assigned') }}
),

events as (
    select * from {{ ref('int_referral_events_deduplicated') }}
),

engagements as (
    select * from {{ ref('int_engagements_deduplicated') }}
),

providers as (
    select * from {{ ref('int_providers_on_as_of_date') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

declined as (
    select distinct referral_id
    from events
    where event_type = 'declined'
),

recent_touches as (
    select
        engagements.referral_id,
        max(engagements.occurred_at) as last_touch_at
    from engagements
    cross join parameters
    where cast(engagements.occurred_at as date) <= parameters.as_of_date
        and {{ days_between('cast(engagements.occurred_at as date)', 'parameters.as_of_date') }} < {{ var('follow_up_after_days') }}
    group by engagements.referral_id
),

open_referrals as (
    select
        referrals.referral_id,
        referrals.patient_id,
        referrals.specialty_group,
        referrals.referred_to_npi,
        referrals.created_date,
        referrals.expires_on,
        outcomes.outcome,
        outcomes.has_booked_appointment,
        outcomes.first_visit_date,
        outcomes.first_visit_npi,
        {{ days_between('referrals.created_date', 'parameters.as_of_date') }} > {{ var('attribution_window_days') }} as is_past_window,
        coalesce(referrals.expires_on < parameters.as_of_date, false) as is_order_expired,
        declined.referral_id is not null as is_declined,
        {{ queue_referred_to_checks('referrals', 'referred_to', 'parameters') }},
        recent_touches.last_touch_at
    from referrals
    cross join parameters
    inner join outcomes
        on referrals.referral_id = outcomes.referral_id
    left join declined
        on referrals.referral_id = declined.referral_id
    left join providers as referred_to
        on referrals.referred_to_npi = referred_to.npi
    left join recent_touches
        on referrals.referral_id = recent_touches.referral_id
    where referrals.referral_status in ('active', 'on-hold')
),

actions as (
    select
        open_referrals.*,
        case
            when outcome = 'completed_in_network' then 'close_completed'
            when outcome = 'completed_out_of_network' then 'close_leaked'
            when outcome = 'scheduled_upcoming' then 'none'
            when is_past_window or is_order_expired then 'expire'
            when is_declined or is_referred_to_unlisted or is_referred_to_out_of_network
                or is_referred_to_not_accepting or is_referred_to_other_group then 'reroute'
            when last_touch_at is null then 'follow_up'
            else 'none'
        end as action
    from open_referrals
),

final as (
    select
        actions.*,
        case
            when action = 'close_completed'
                then 'seen in network on ' || cast(first_visit_date as {{ dbt.type_string() }}) || ' (NPI ' || first_visit_npi || '): close the referral'
            when action = 'close_leaked'
                then 'seen out of network on ' || cast(first_visit_date as {{ dbt.type_string() }}) || ' (NPI ' || first_visit_npi || '): close as leaked'
            when outcome = 'scheduled_upcoming' then 'appointment booked on or after the as-of date'
            when action = 'expire' and is_order_expired
                then 'order expired on ' || cast(expires_on as {{ dbt.type_string() }})
            when action = 'expire'
                then 'no visit within the {{ var("attribution_window_days") }}-day attribution window'
            when action = 'reroute' and is_declined then 'declined by the receiving provider'
            when action = 'reroute' and is_referred_to_unlisted then 'referred-to provider is not in the directory on the as-of date'
            when action = 'reroute' and is_referred_to_out_of_network then 'referred-to provider is out of network'
            when action = 'reroute' and is_referred_to_not_accepting then 'referred-to provider is not accepting new patients'
            when action = 'reroute'
                then 'referred-to provider is ' || referred_to_specialty_group || ', not ' || specialty_group
            when action = 'follow_up' then 'no outreach in the last {{ var("follow_up_after_days") }} days'
            else 'outreach in the last {{ var("follow_up_after_days") }} days'
        end as reason,
        action = 'reroute' or (action = 'follow_up' and not has_booked_appointment) as needs_recommendation
    from actions
)

select * from final
