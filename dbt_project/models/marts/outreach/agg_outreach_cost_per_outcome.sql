{#- What a scheduled referral and a completed in-network visit cost, per
    channel and purpose over all loaded data, and for the whole program
    (channel and purpose '(all)'), where the program's fixed cost
    (program_fixed_cost_per_year x years covered, the distinct creation years of
    eligible referrals, as in agg_program_return) is added. A channel's
    outcomes are those of the referrals it touched. -#}
with

engagements as (
    select * from {{ ref('fct_engagements') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

years_covered as (
    select count(distinct created_year) as years
    from referrals
),

touched as (
    select
        engagements.channel,
        coalesce(engagements.purpose, '(not given)') as purpose,
        engagements.referral_id,
        engagements.engagement_cost,
        referrals.is_scheduled,
        referrals.is_completed_in_network,
        referrals.created_year
    from engagements
    inner join referrals
        on engagements.referral_id = referrals.referral_id
),

{#- One row per referral (within a channel and purpose; over the program)
    first: distinct referrals are then counted as rows. -#}
per_channel_referral as (
    select
        channel,
        purpose,
        referral_id,
        sum(engagement_cost) as variable_cost,
        max(case when is_scheduled then 1 else 0 end) as is_scheduled,
        max(case when is_completed_in_network then 1 else 0 end) as is_completed_in_network
    from touched
    group by channel, purpose, referral_id
),

per_referral as (
    select
        referral_id,
        sum(variable_cost) as variable_cost,
        max(is_scheduled) as is_scheduled,
        max(is_completed_in_network) as is_completed_in_network
    from per_channel_referral
    group by referral_id
),

by_channel as (
    select
        channel,
        purpose,
        sum(variable_cost) as variable_cost,
        cast(0 as decimal(18, 2)) as fixed_cost,
        count(*) as referrals_touched,
        sum(is_scheduled) as referrals_scheduled,
        sum(is_completed_in_network) as referrals_completed_in_network
    from per_channel_referral
    group by channel, purpose
),

program as (
    select
        '(all)' as channel,
        '(all)' as purpose,
        sum(per_referral.variable_cost) as variable_cost,
        cast(max(parameters.program_fixed_cost_per_year) * max(years_covered.years) as decimal(18, 2))
            as fixed_cost,
        count(per_referral.referral_id) as referrals_touched,
        coalesce(sum(per_referral.is_scheduled), 0) as referrals_scheduled,
        coalesce(sum(per_referral.is_completed_in_network), 0) as referrals_completed_in_network
    from per_referral
    cross join parameters
    cross join years_covered
),

combined as (
    select * from by_channel
    union all
    select * from program
),

final as (
    select
        channel,
        purpose,
        cast(referrals_touched as integer) as referrals_touched,
        cast(referrals_scheduled as integer) as referrals_scheduled,
        cast(referrals_completed_in_network as integer) as referrals_completed_in_network,
        cast(variable_cost as decimal(18, 2)) as variable_cost,
        cast(fixed_cost as decimal(18, 2)) as fixed_cost,
        cast(variable_cost + fixed_cost as decimal(18, 2)) as total_cost,
        {{ safe_divide('variable_cost + fixed_cost', 'referrals_scheduled') }} as cost_per_scheduled_referral,
        {{ safe_divide('variable_cost + fixed_cost', 'referrals_completed_in_network') }} as cost_per_completed_visit
    from combined
)

select * from final
