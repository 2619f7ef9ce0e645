{#- The outcome of each eligible referral: the first rule that applies
    (docs/metrics.md, Outcome of a referral), its drop-off stage, and the
    date and provider of the evidence that made a completed outcome.
    Kept incrementally on DuckDB: a daily build computes the referrals in
    int_referral_scope again and replaces their rows (macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_referral_scope') }}
{{ replace_scope_config('int_referral_scope', 'referral_id') }}
with

referrals as (
    select * from {{ ref('int_referrals_eligible') }}
    {{ in_scope('referral_id', 'int_referral_scope') }}
),

evidence as (
    select * from {{ ref('int_referral_evidence_summarized') }}
    {{ in_scope('referral_id', 'int_referral_scope', relation=ref('int_referral_evidence_summarized'), written=true) }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

joined as (
    select
        referrals.referral_id,
        referrals.referral_status,
        referrals.created_date,
        referrals.expires_on,
        coalesce(evidence.has_in_network_completion, false) as has_in_network_completion,
        coalesce(evidence.has_out_of_network_completion, false) as has_out_of_network_completion,
        coalesce(evidence.has_upcoming_appointment, false) as has_upcoming_appointment,
        coalesce(evidence.has_no_show, false) as has_no_show,
        coalesce(evidence.has_cancelled_appointment, false) as has_cancelled_appointment,
        coalesce(evidence.has_booked_appointment, false) as has_booked_appointment,
        evidence.first_in_network_date,
        evidence.first_in_network_npi,
        evidence.first_in_network_organization_id,
        evidence.first_out_of_network_date,
        evidence.first_out_of_network_npi,
        evidence.first_out_of_network_organization_id,
        {{ days_between('referrals.created_date', 'parameters.as_of_date') }} <= {{ var('attribution_window_days') }}
            and (referrals.expires_on is null or referrals.expires_on >= parameters.as_of_date)
            as is_within_window
    from referrals
    cross join parameters
    left join evidence
        on referrals.referral_id = evidence.referral_id
),

outcomes as (
    select
        joined.*,
        case
            when has_in_network_completion then 'completed_in_network'
            when has_out_of_network_completion then 'completed_out_of_network'
            when has_upcoming_appointment then 'scheduled_upcoming'
            when referral_status = 'revoked' then 'referral_cancelled'
            when has_no_show then 'no_show'
            when has_cancelled_appointment then 'appointment_cancelled'
            when has_booked_appointment then 'appointment_unresolved'
            when is_within_window then 'unscheduled_open'
            else 'unscheduled_expired'
        end as outcome
    from joined
),

final as (
    select
        referral_id,
        outcome,
        case outcome
            when 'completed_out_of_network' then 'network'
            when 'referral_cancelled' then 'referral_cancelled'
            when 'no_show' then 'attendance'
            when 'appointment_cancelled' then 'attendance'
            when 'appointment_unresolved' then 'attendance'
            when 'unscheduled_expired' then 'scheduling'
        end as drop_off_stage,
        has_booked_appointment,
        case outcome
            when 'completed_in_network' then first_in_network_date
            when 'completed_out_of_network' then first_out_of_network_date
        end as first_visit_date,
        case outcome
            when 'completed_in_network' then first_in_network_npi
            when 'completed_out_of_network' then first_out_of_network_npi
        end as first_visit_npi,
        case outcome
            when 'completed_in_network' then first_in_network_organization_id
            when 'completed_out_of_network' then first_out_of_network_organization_id
        end as first_visit_organization_id,
        cast({{ dbt.current_timestamp() }} as timestamp) as _built_at
    from outcomes
)

select * from final
