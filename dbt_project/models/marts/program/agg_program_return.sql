{#- What the referral program returns, per calendar year of referral creation
    and over all years (`created_year` null, computed on the pooled referrals,
    not summed over years). docs/metrics.md, Money and program return:
    incremental completions = sum over groups of navigated x uplift;
    incremental revenue adds each group's average revenue; program cost =
    engagement cost + program_fixed_cost_per_year x years covered; ROI =
    net benefit / program cost (null when the cost is 0). The comparison is
    observational (navigated versus non-navigated referrals, standardized by
    specialty group), not a randomized estimate. -#}
with

uplift as (
    select * from {{ ref('int_program_uplift_by_group') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }}
),

average_revenue as (
    select * from {{ ref('int_specialty_average_revenue') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

pooled_referrals as (
    select created_year, specialty_group, outcome, in_network_revenue, out_of_network_revenue from referrals
    union all
    select cast(null as integer) as created_year, specialty_group, outcome, in_network_revenue, out_of_network_revenue from referrals
),

money as (
    select
        pooled_referrals.created_year,
        sum(pooled_referrals.in_network_revenue) as captured_revenue,
        sum(pooled_referrals.out_of_network_revenue) as leaked_revenue,
        sum(case when pooled_referrals.outcome in ('no_show', 'appointment_cancelled', 'appointment_unresolved', 'unscheduled_expired')
            then average_revenue.average_revenue else 0 end) as unrealized_revenue_estimate
    from pooled_referrals
    left join average_revenue
        on pooled_referrals.specialty_group = average_revenue.specialty_group
    group by pooled_referrals.created_year
),

all_years as (
    select count(distinct created_year) as years from referrals
),

program as (
    select
        created_year,
        sum(referrals) as referrals,
        sum(navigated_referrals) as navigated_referrals,
        sum(navigated_scheduled) as navigated_scheduled,
        sum(navigated_referrals * uplift) as incremental_completions,
        sum(navigated_referrals * uplift * average_revenue) as incremental_revenue,
        sum(engagement_cost) as engagement_cost
    from uplift
    group by created_year
),

costed as (
    select
        program.*,
        case when program.created_year is null then all_years.years else 1 end as years_covered,
        parameters.program_fixed_cost_per_year,
        parameters.has_engagements
    from program
    cross join all_years
    cross join parameters
),

final as (
    select
        costed.created_year,
        cast(costed.years_covered as integer) as years_covered,
        cast(costed.referrals as integer) as referrals,
        cast(case when costed.has_engagements then costed.navigated_referrals end as integer) as navigated_referrals,
        cast(case when costed.has_engagements then costed.navigated_scheduled end as integer) as navigated_scheduled,
        case when costed.has_engagements
            then {{ safe_divide('costed.navigated_scheduled', 'costed.navigated_referrals') }} end as navigated_conversion_rate,
        cast(costed.incremental_completions as double) as incremental_completions,
        cast(round(costed.incremental_revenue, 2) as decimal(18, 2)) as incremental_revenue,
        cast(round(costed.engagement_cost, 2) as decimal(18, 2)) as engagement_cost,
        cast(costed.program_fixed_cost_per_year * costed.years_covered as decimal(18, 2)) as fixed_program_cost,
        cast(round(coalesce(costed.engagement_cost, 0) + costed.program_fixed_cost_per_year * costed.years_covered, 2) as decimal(18, 2)) as program_cost,
        cast(round(costed.incremental_revenue
            - (coalesce(costed.engagement_cost, 0) + costed.program_fixed_cost_per_year * costed.years_covered), 2) as decimal(18, 2)) as net_benefit,
        {{ safe_divide(
            'costed.incremental_revenue - (coalesce(costed.engagement_cost, 0) + costed.program_fixed_cost_per_year * costed.years_covered)',
            'coalesce(costed.engagement_cost, 0) + costed.program_fixed_cost_per_year * costed.years_covered'
        ) }} as roi,
        cast(round(money.captured_revenue, 2) as decimal(18, 2)) as captured_revenue,
        cast(round(money.leaked_revenue, 2) as decimal(18, 2)) as leaked_revenue,
        cast(round(money.unrealized_revenue_estimate, 2) as decimal(18, 2)) as unrealized_revenue_estimate,
        cast(costed.program_fixed_cost_per_year as decimal(18, 2)) as program_fixed_cost_per_year,
        'observational: navigated vs non-navigated referrals, standardized by specialty group; not a randomized estimate' as comparison
    from costed
    left join money
        on costed.created_year = money.created_year
        or (costed.created_year is null and money.created_year is null)
)

select * from final
