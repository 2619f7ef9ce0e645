{#- For each measurement year Y and patient with an eligible referral created
    from Y-01-01 to Y-10-31: that patient's first such referral (least
    created_at, tie least referral_id), and whether it has a
    consult_report_received event at or after its created_at and dated no
    later than Y-12-31 (docs/metrics.md, CMS50).
    Kept incrementally on DuckDB: a daily build computes the patients in
    int_cms50_scope again and replaces their rows (macros/replace_scope.sql);
    a table on Spark, computed whole. -#}
-- depends_on: {{ ref('int_cms50_scope') }}
{{ replace_scope_config('int_cms50_scope', 'patient_id') }}
with

referrals as (
    select * from {{ ref('int_referrals_eligible') }}
    {{ in_scope('patient_id', 'int_cms50_scope') }}
),

events as (
    select * from {{ ref('int_referral_events_deduplicated') }}
),

in_window as (
    select
        cast(extract(year from created_date) as integer) as measurement_year,
        patient_id,
        referral_id,
        created_at
    from referrals
    where extract(month from created_date) <= 10
),

first_referrals as (
    {{ deduplicate('in_window', 'measurement_year, patient_id', 'created_at, referral_id') }}
),

reports as (
    select
        first_referrals.measurement_year,
        first_referrals.referral_id,
        count(*) as reports
    from first_referrals
    inner join events
        on first_referrals.referral_id = events.referral_id
        and events.event_type = 'consult_report_received'
        and events.occurred_at >= first_referrals.created_at
        and extract(year from events.occurred_at) <= first_referrals.measurement_year
    group by
        first_referrals.measurement_year,
        first_referrals.referral_id
),

final as (
    select
        first_referrals.measurement_year,
        first_referrals.patient_id,
        first_referrals.referral_id,
        first_referrals.created_at,
        reports.referral_id is not null as has_report_in_year
    from first_referrals
    left join reports
        on first_referrals.measurement_year = reports.measurement_year
        and first_referrals.referral_id = reports.referral_id
)

select * from final
