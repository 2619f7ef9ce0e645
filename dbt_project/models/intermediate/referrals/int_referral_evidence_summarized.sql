{#- What the attributed evidence says about each referral: completion in and
    out of network (attended appointments and paid claim lines), upcoming and
    missed appointments, first booking, revenue. One row per referral with any
    attributed evidence.
    Kept incrementally on DuckDB: a daily build computes the referrals in
    int_referral_scope again and replaces their rows (macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_referral_scope') }}
{{ replace_scope_config('int_referral_scope', 'referral_id') }}
with

evidence as (
    select * from {{ ref('int_care_evidence_attributed') }}
    where attributed_referral_id is not null
    {{ in_scope('attributed_referral_id', 'int_referral_scope', 'and') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

classified as (
    select
        evidence.*,
        (
            (evidence.evidence_type = 'appointment' and evidence.is_attended)
            or evidence.evidence_type = 'claim_line'
        ) as is_completion,
        evidence.evidence_type = 'appointment' as is_booked_appointment,
        evidence.evidence_date <= parameters.as_of_date as is_dated_by_as_of,
        (
            evidence.appointment_status = 'booked'
            and evidence.evidence_date >= parameters.as_of_date
        ) as is_upcoming
    from evidence
    cross join parameters
),

completions as (
    select
        attributed_referral_id,
        is_in_network,
        evidence_date,
        provider_npi,
        organization_id
    from classified
    where is_completion
        and is_in_network is not null
),

first_completion as (
    {{ deduplicate('completions', 'attributed_referral_id, is_in_network', 'evidence_date, provider_npi') }}
),

summary as (
    select
        attributed_referral_id as referral_id,
        count(case when is_completion and is_in_network then 1 end) > 0 as has_in_network_completion,
        count(case when is_completion and not is_in_network then 1 end) > 0 as has_out_of_network_completion,
        count(case when is_upcoming then 1 end) > 0 as has_upcoming_appointment,
        count(case when appointment_status = 'noshow' then 1 end) > 0 as has_no_show,
        count(case when appointment_status = 'cancelled' then 1 end) > 0 as has_cancelled_appointment,
        count(case when is_booked_appointment then 1 end) > 0 as has_booked_appointment,
        min(booked_at) as first_booked_at,
        count(case when appointment_status = 'noshow' and is_dated_by_as_of then 1 end) as noshow_appointments,
        count(case when is_booked_appointment and is_attended then 1 end) as attended_appointments,
        sum(case when evidence_type = 'claim_line' and is_in_network then allowed_amount else 0 end) as in_network_revenue,
        sum(case when evidence_type = 'claim_line' and not is_in_network then allowed_amount else 0 end) as out_of_network_revenue
    from classified
    group by attributed_referral_id
),

final as (
    select
        summary.*,
        in_network.evidence_date as first_in_network_date,
        in_network.provider_npi as first_in_network_npi,
        in_network.organization_id as first_in_network_organization_id,
        out_of_network.evidence_date as first_out_of_network_date,
        out_of_network.provider_npi as first_out_of_network_npi,
        out_of_network.organization_id as first_out_of_network_organization_id,
        cast({{ dbt.current_timestamp() }} as timestamp) as _built_at
    from summary
    left join first_completion as in_network
        on summary.referral_id = in_network.attributed_referral_id
        and in_network.is_in_network
    left join first_completion as out_of_network
        on summary.referral_id = out_of_network.attributed_referral_id
        and not out_of_network.is_in_network
)

select * from final
