{#- Touches and what followed, per created month, specialty group, channel and
    purpose (and referring practice and payer, so every dashboard filter applies). Referral counts are distinct within a row, so they add up across
    months and groups; across channels a referral touched by two channels counts
    in both. -#}
with

engagements as (
    select * from {{ ref('fct_engagements') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }}
),

final as (
    select
        engagements.created_month,
        engagements.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        engagements.channel,
        coalesce(engagements.purpose, '(not given)') as purpose,
        cast(count(*) as integer) as touches,
        cast(count(case when engagements.is_response then 1 end) as integer) as responses,
        cast(count(case when engagements.outcome = 'scheduled' then 1 end) as integer) as scheduled_on_touch,
        cast(count(case when engagements.is_booked_within_7_days then 1 end) as integer) as followed_by_booking_within_7_days,
        cast(count(distinct engagements.referral_id) as integer) as referrals_touched,
        cast(count(distinct case when referrals.is_scheduled then engagements.referral_id end) as integer)
            as referrals_scheduled,
        cast(count(distinct case when referrals.is_completed_in_network then engagements.referral_id end) as integer)
            as referrals_completed_in_network,
        cast(sum(engagements.engagement_cost) as decimal(18, 2)) as cost
    from engagements
    inner join referrals
        on engagements.referral_id = referrals.referral_id
    group by
        engagements.created_month,
        engagements.specialty_group,
        referrals.referring_location_id,
        referrals.payer_id,
        engagements.channel,
        coalesce(engagements.purpose, '(not given)')
)

select * from final
