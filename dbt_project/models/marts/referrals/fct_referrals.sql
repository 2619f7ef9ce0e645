{#- One row per eligible referral: what happened to it and where it dropped
    (docs/metrics.md, marts.fct_referrals).
    Kept incrementally on DuckDB: a daily build computes the referrals in
    int_referral_scope again and replaces their rows (macros/replace_scope.sql);
    every input is read for those referrals only. int_referrals_replaced
    copies the rows it replaces first (for the aggregates kept by cell). -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}
{{ replace_scope_config('int_referral_scope', 'referral_id') }}
with

referrals as (
    select * from {{ ref('int_referrals_eligible') }}
    {{ in_scope('referral_id', 'int_referral_scope') }}
),

outcomes as (
    select * from {{ ref('int_referral_outcomes_assigned') }}
    {{ in_scope('referral_id', 'int_referral_scope', relation=ref('int_referral_outcomes_assigned'), written=true) }}
),

evidence as (
    select * from {{ ref('int_referral_evidence_summarized') }}
    {{ in_scope('referral_id', 'int_referral_scope', relation=ref('int_referral_evidence_summarized'), written=true) }}
),

{#- The outreach summary, the reports and the duplicate flag, as the views
    int_referral_engagements_summarized, int_referral_reports_received and
    int_referral_duplicates_flagged compute them, for the referrals in scope
    only (macros/referral_summaries.sql). -#}
engagements as (
    {{ referral_engagements_summary(scoped=true) }}
),

reports as (
    {{ referral_reports_received(scoped=true) }}
),

duplicates as (
    {{ referral_duplicates(scoped=true) }}
),

warehouse_key as (
    select * from {{ ref('stg_extracts__warehouse_key') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

joined as (
    select
        referrals.referral_id,
        {{ patient_key('referrals.patient_id', 'warehouse_key.secret') }} as patient_key,
        referrals.requested_specialty_code,
        referrals.specialty_group,
        referrals.referring_npi,
        referrals.referring_location_id,
        referrals.referred_to_npi,
        referrals.payer_id,
        referrals.priority,
        referrals.referral_status,
        referrals.created_at,
        referrals.created_date,
        cast({{ dbt.date_trunc('month', 'referrals.created_date') }} as date) as created_month,
        cast(extract(year from referrals.created_date) as integer) as created_year,
        referrals.expires_on,
        outcomes.outcome,
        outcomes.drop_off_stage,
        outcomes.has_booked_appointment or outcomes.outcome in ('completed_in_network', 'completed_out_of_network') as is_scheduled,
        outcomes.outcome = 'completed_in_network' as is_completed_in_network,
        outcomes.outcome = 'completed_out_of_network' as is_leaked_out_of_network,
        outcomes.outcome not in ('scheduled_upcoming', 'unscheduled_open') as is_resolved,
        evidence.first_booked_at,
        outcomes.first_visit_date,
        outcomes.first_visit_npi,
        outcomes.first_visit_organization_id,
        engagements.first_contact_at,
        reports.report_received_at,
        case when parameters.has_referral_events then reports.report_received_at is not null end as is_loop_closed,
        case when parameters.has_appointments then coalesce(evidence.noshow_appointments, 0) end as noshow_appointments,
        case when parameters.has_appointments then coalesce(evidence.attended_appointments, 0) end as attended_appointments,
        case when parameters.has_claims and parameters.has_providers
            then coalesce(evidence.in_network_revenue, 0) end as in_network_revenue,
        case when parameters.has_claims and parameters.has_providers
            then coalesce(evidence.out_of_network_revenue, 0) end as out_of_network_revenue,
        case when parameters.has_engagements then coalesce(engagements.engagement_count, 0) end as engagement_count,
        case when parameters.has_engagements then coalesce(engagements.engagement_cost, 0) end as engagement_cost,
        duplicates.referral_id is not null as is_duplicate
    from referrals
    cross join warehouse_key
    cross join parameters
    inner join outcomes
        on referrals.referral_id = outcomes.referral_id
    left join evidence
        on referrals.referral_id = evidence.referral_id
    left join engagements
        on referrals.referral_id = engagements.referral_id
    left join reports
        on referrals.referral_id = reports.referral_id
    left join duplicates
        on referrals.referral_id = duplicates.referral_id
),

final as (
    select
        referral_id,
        patient_key,
        requested_specialty_code,
        specialty_group,
        referring_npi,
        referring_location_id,
        referred_to_npi,
        payer_id,
        priority,
        referral_status,
        created_at,
        created_date,
        created_month,
        created_year,
        expires_on,
        outcome,
        drop_off_stage,
        is_scheduled,
        is_completed_in_network,
        is_leaked_out_of_network,
        is_resolved,
        first_booked_at,
        first_visit_date,
        first_visit_npi,
        first_visit_organization_id,
        first_contact_at,
        report_received_at,
        is_loop_closed,
        {{ days_between('created_date', 'cast(first_contact_at as date)') }} as days_to_first_contact,
        {{ days_between('created_date', 'cast(first_booked_at as date)') }} as days_to_schedule,
        {{ days_between('created_date', 'first_visit_date') }} as days_to_visit,
        {{ days_between('first_visit_date', 'cast(report_received_at as date)') }} as days_to_report,
        cast(in_network_revenue as decimal(18, 2)) as in_network_revenue,
        cast(out_of_network_revenue as decimal(18, 2)) as out_of_network_revenue,
        cast(engagement_count as integer) as engagement_count,
        cast(engagement_cost as decimal(18, 2)) as engagement_cost,
        engagement_count > 0 as is_navigated,
        is_duplicate,
        cast(noshow_appointments as integer) as noshow_appointments,
        cast(attended_appointments as integer) as attended_appointments
    from joined
)

select * from final
