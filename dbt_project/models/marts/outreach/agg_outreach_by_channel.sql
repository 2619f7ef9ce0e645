{#- Touches and what followed, per created month, specialty group, channel and
    purpose (and referring practice and payer, so every dashboard filter applies). Referral counts are distinct within a row, so they add up across
    months and groups; across channels a referral touched by two channels counts
    in both.
    Kept by cell on DuckDB (macros/replace_cells.sql): a daily build computes
    again the rows of the created month, specialty group, referring practice
    and payer of each referral in scope, before and after (an engagement with
    a new version puts its referral in scope); the other rows stay. -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}, {{ ref('int_referral_scope_cells') }}
{%- set cells = ['created_month', 'specialty_group', 'referring_location_id', 'payer_id'] %}
{{ replace_cells_config(cells) }}
with

engagements as (
    select * from {{ ref('fct_engagements') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }} as referrals
    {{ in_cells(cells, 'referrals') }}
),

{#- One row per referral within each group first: counting distinct referrals
    is then a count of rows (much cheaper than count(distinct)). -#}
per_referral as (
    select
        engagements.created_month,
        engagements.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        engagements.channel,
        coalesce(engagements.purpose, '(not given)') as purpose,
        engagements.referral_id,
        count(*) as touches,
        count(case when engagements.is_response then 1 end) as responses,
        count(case when engagements.outcome = 'scheduled' then 1 end) as scheduled_on_touch,
        count(case when engagements.is_booked_within_7_days then 1 end) as followed_by_booking_within_7_days,
        max(case when referrals.is_scheduled then 1 else 0 end) as is_scheduled,
        max(case when referrals.is_completed_in_network then 1 else 0 end) as is_completed_in_network,
        sum(engagements.engagement_cost) as cost
    from engagements
    inner join referrals
        on engagements.referral_id = referrals.referral_id
    group by
        engagements.created_month,
        engagements.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        engagements.channel,
        coalesce(engagements.purpose, '(not given)'),
        engagements.referral_id
),

final as (
    select
        created_month,
        specialty_group,
        referring_location_id,
        payer_id,
        channel,
        purpose,
        cast(sum(touches) as integer) as touches,
        cast(sum(responses) as integer) as responses,
        cast(sum(scheduled_on_touch) as integer) as scheduled_on_touch,
        cast(sum(followed_by_booking_within_7_days) as integer) as followed_by_booking_within_7_days,
        cast(count(*) as integer) as referrals_touched,
        cast(sum(is_scheduled) as integer) as referrals_scheduled,
        cast(sum(is_completed_in_network) as integer) as referrals_completed_in_network,
        cast(sum(cost) as decimal(18, 2)) as cost
    from per_referral
    group by
        created_month,
        specialty_group,
        referring_location_id,
        payer_id,
        channel,
        purpose
)

select * from final
