{#- Reminder coverage and no-shows. Appointments: attributed to an eligible
    referral, dated on or before the as-of date T, attended or no-show. One
    has a reminder when an engagement with purpose `reminder` for its referral
    occurred in the 72 hours before its start (start - 72h <= occurred_at <
    start). Per created month, specialty group, referring practice and payer of the referral.
    Kept by cell on DuckDB (macros/replace_cells.sql): a daily build computes
    again the rows of the created month, specialty group, referring practice
    and payer of each referral in scope, before and after, from those cells'
    referrals and their appointments and reminders; the other rows stay. An
    appointment's data, its date passing T and a reminder each put its
    referral in scope (int_referral_scope). -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}, {{ ref('int_referral_scope_cells') }}
{%- set cells = ['created_month', 'specialty_group', 'referring_location_id', 'payer_id'] %}
{{ replace_cells_config(cells) }}
with

referrals as (
    select * from {{ ref('fct_referrals') }} as referrals
    {{ in_cells(cells, 'referrals') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
    {%- if is_incremental() %}
    where referral_id in (select referral_id from referrals)
    {%- endif %}
),

engagements as (
    select * from {{ ref('int_engagements_sequenced') }}
    where purpose = 'reminder'
    {%- if is_incremental() %}
        and referral_id in (select referral_id from referrals)
    {%- endif %}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

resolved as (
    select
        appointments.appointment_id,
        appointments.referral_id,
        appointments.start_at,
        appointments.status = 'noshow' as is_no_show
    from appointments
    cross join parameters
    where appointments.referral_id is not null
        and appointments.start_date <= parameters.as_of_date
        and (appointments.is_attended or appointments.status = 'noshow')
),

reminded as (
    select distinct resolved.appointment_id
    from resolved
    inner join engagements
        on resolved.referral_id = engagements.referral_id
        and engagements.occurred_at >= {{ dbt.dateadd('hour', -72, 'resolved.start_at') }}
        and engagements.occurred_at < resolved.start_at
),

final as (
    select
        referrals.created_month,
        referrals.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        reminded.appointment_id is not null as has_reminder,
        cast(count(*) as integer) as appointments,
        cast(count(case when resolved.is_no_show then 1 end) as integer) as no_shows
    from resolved
    inner join referrals
        on resolved.referral_id = referrals.referral_id
    left join reminded
        on resolved.appointment_id = reminded.appointment_id
    group by
        referrals.created_month,
        referrals.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        reminded.appointment_id is not null
)

select * from final
