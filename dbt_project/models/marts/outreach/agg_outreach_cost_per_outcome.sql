{#- What a scheduled referral and a completed in-network visit cost, per
    channel and purpose over all loaded data, and for the whole program
    (channel and purpose '(all)'), where the program's fixed cost
    (program_fixed_cost_per_year x years covered, the distinct creation years of
    eligible referrals, as in agg_program_return) is added. A channel's
    outcomes are those of the referrals it touched.
    Summed from the finer tables kept incrementally, not from the
    engagements: a channel and purpose's row from agg_outreach_by_channel's
    cells (a referral falls in one cell of each channel and purpose, so its
    distinct referrals add up); the program's row from fct_referral_outreach
    (one row per referral; every engagement is an outreach touch or a
    reminder). -#}
with

channel_cells as (
    select * from {{ ref('agg_outreach_by_channel') }}
),

outreach as (
    select * from {{ ref('fct_referral_outreach') }}
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

by_channel as (
    select
        channel,
        purpose,
        sum(cost) as variable_cost,
        cast(0 as decimal(18, 2)) as fixed_cost,
        sum(referrals_touched) as referrals_touched,
        sum(referrals_scheduled) as referrals_scheduled,
        sum(referrals_completed_in_network) as referrals_completed_in_network
    from channel_cells
    group by channel, purpose
),

touched as (
    select *
    from outreach
    where outreach_touches + reminders > 0
),

program as (
    select
        '(all)' as channel,
        '(all)' as purpose,
        sum(touched.outreach_cost) as variable_cost,
        cast(max(parameters.program_fixed_cost_per_year) * max(years_covered.years) as decimal(18, 2))
            as fixed_cost,
        count(touched.referral_id) as referrals_touched,
        coalesce(sum(case when touched.is_scheduled then 1 else 0 end), 0) as referrals_scheduled,
        coalesce(sum(case when touched.is_completed_in_network then 1 else 0 end), 0)
            as referrals_completed_in_network
    from touched
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
