{#- One row per eligible referral: how the program reached out (touches,
    timing, the first three channels, escalation to phone) and whether the
    referral was scheduled and completed in network. Referrals without any
    outreach touch have 0 touches and a null sequence.
    Kept incrementally on DuckDB: a daily build computes the referrals in
    int_referral_scope again and replaces their rows (macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_referral_scope') }}
{{ replace_scope_config('int_referral_scope', 'referral_id') }}
with

referrals as (
    select * from {{ ref('fct_referrals') }}
    {{ in_scope('referral_id', 'int_referral_scope') }}
),

engagements as (
    select * from {{ ref('int_engagements_sequenced') }}
    {{ in_scope('referral_id', 'int_referral_scope') }}
),

per_referral as (
    select
        referral_id,
        count(case when is_outreach_touch then 1 end) as outreach_touches,
        count(case when purpose = 'reminder' then 1 end) as reminders,
        min(case when is_outreach_touch then occurred_at end) as first_touch_at,
        max(case when touch_number = 1 then channel end) as first_channel,
        max(case when touch_number = 2 then channel end) as second_channel,
        max(case when touch_number = 3 then channel end) as third_channel,
        max(case when is_outreach_touch and channel = 'phone' then 1 else 0 end) = 1 as has_phone_touch,
        max(case when is_escalation_to_phone then 1 else 0 end) = 1 as is_escalated_to_phone,
        sum(engagement_cost) as outreach_cost
    from engagements
    group by referral_id
),

final as (
    select
        referrals.referral_id,
        referrals.created_month,
        referrals.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        cast(coalesce(per_referral.outreach_touches, 0) as integer) as outreach_touches,
        cast(coalesce(per_referral.reminders, 0) as integer) as reminders,
        per_referral.first_touch_at,
        cast({{ days_between('referrals.created_at', 'per_referral.first_touch_at') }} as integer) as days_to_first_touch,
        case when referrals.first_booked_at >= per_referral.first_touch_at
            then cast({{ days_between('per_referral.first_touch_at', 'referrals.first_booked_at') }} as integer)
        end as days_first_touch_to_booking,
        case when per_referral.first_channel is not null then
            per_referral.first_channel
            || coalesce(' > ' || per_referral.second_channel, '')
            || coalesce(' > ' || per_referral.third_channel, '')
        end as first_three_channels,
        coalesce(per_referral.has_phone_touch, false) as has_phone_touch,
        coalesce(per_referral.is_escalated_to_phone, false) as is_escalated_to_phone,
        referrals.is_scheduled,
        referrals.is_completed_in_network,
        cast(coalesce(per_referral.outreach_cost, 0) as decimal(18, 2)) as outreach_cost
    from referrals
    left join per_referral
        on referrals.referral_id = per_referral.referral_id
)

select * from final
