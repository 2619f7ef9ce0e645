{#- One row per engagement of an eligible referral: channel, purpose, cost,
    its place in the outreach sequence, and what followed it.
    Kept incrementally on DuckDB: a daily build computes the referrals in
    int_referral_scope again and replaces their rows (macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_referral_scope') }}
{{ replace_scope_config('int_referral_scope', 'referral_id') }}
with

engagements as (
    select * from {{ ref('int_engagements_sequenced') }}
    {{ in_scope('referral_id', 'int_referral_scope') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }}
    {{ in_scope('referral_id', 'int_referral_scope') }}
),

final as (
    select
        engagements.engagement_id,
        engagements.referral_id,
        referrals.created_month,
        referrals.specialty_group,
        engagements.occurred_at,
        engagements.channel,
        engagements.channel_kind,
        engagements.purpose,
        engagements.outcome,
        cast(engagements.engagement_cost as decimal(18, 2)) as engagement_cost,
        engagements.is_outreach_touch,
        cast(engagements.touch_number as integer) as touch_number,
        engagements.is_escalation_to_phone,
        cast({{ days_between('referrals.created_at', 'engagements.occurred_at') }} as integer) as days_since_referral,
        engagements.outcome in ('responded', 'scheduled') as is_response,
        coalesce(referrals.first_booked_at is null or engagements.occurred_at < referrals.first_booked_at, false)
            as is_before_first_booking,
        coalesce(
            referrals.first_booked_at >= engagements.occurred_at
            and referrals.first_booked_at < {{ dbt.dateadd('day', 7, 'engagements.occurred_at') }},
            false
        ) as is_booked_within_7_days
    from engagements
    inner join referrals
        on engagements.referral_id = referrals.referral_id
)

select * from final
