{#- Completion of navigated versus non-navigated referrals per specialty
    group, per calendar year of creation and pooled over all years
    (`created_year` null): uplift_g = completion rate of navigated minus of
    non-navigated referrals, 0 where either set is empty (docs/metrics.md,
    Program return). Observational: navigation was not randomized. -#}
with

referrals as (
    select * from {{ ref('fct_referrals') }}
),

average_revenue as (
    select * from {{ ref('int_specialty_average_revenue') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

pooled as (
    select created_year, specialty_group, is_navigated, is_completed_in_network, is_scheduled, engagement_cost
    from referrals
    union all
    select cast(null as integer) as created_year, specialty_group, is_navigated, is_completed_in_network, is_scheduled, engagement_cost
    from referrals
),

by_group as (
    select
        created_year,
        specialty_group,
        count(*) as referrals,
        count(case when is_navigated then 1 end) as navigated,
        count(case when not is_navigated then 1 end) as non_navigated,
        count(case when is_navigated and is_completed_in_network then 1 end) as navigated_completed,
        count(case when not is_navigated and is_completed_in_network then 1 end) as non_navigated_completed,
        count(case when is_navigated and is_scheduled then 1 end) as navigated_scheduled,
        sum(engagement_cost) as engagement_cost
    from pooled
    group by
        created_year,
        specialty_group
),

final as (
    select
        by_group.created_year,
        by_group.specialty_group,
        cast(by_group.referrals as integer) as referrals,
        cast(by_group.navigated as integer) as navigated_referrals,
        cast(by_group.non_navigated as integer) as non_navigated_referrals,
        cast(by_group.navigated_completed as integer) as navigated_completed,
        cast(by_group.non_navigated_completed as integer) as non_navigated_completed,
        cast(by_group.navigated_scheduled as integer) as navigated_scheduled,
        {{ safe_divide('by_group.navigated_completed', 'by_group.navigated') }} as navigated_completion_rate,
        {{ safe_divide('by_group.non_navigated_completed', 'by_group.non_navigated') }} as non_navigated_completion_rate,
        case
            when not parameters.has_engagements then null
            when by_group.navigated = 0 or by_group.non_navigated = 0 then 0.0
            else {{ safe_divide('by_group.navigated_completed', 'by_group.navigated') }}
                - {{ safe_divide('by_group.non_navigated_completed', 'by_group.non_navigated') }}
        end as uplift,
        average_revenue.average_revenue,
        cast(by_group.engagement_cost as double) as engagement_cost
    from by_group
    cross join parameters
    left join average_revenue
        on by_group.specialty_group = average_revenue.specialty_group
)

select * from final
