{#- Kaplan-Meier time to a completed visit, per specialty group and for all
    referrals (`specialty_group` = '(all)'). A referral's visit (completed in
    or out of network) within the attribution window W is an event on day
    `days_to_visit` (negative days count as day 0). Every other referral is
    censored at min(T - created_date, W): open ones because their story is
    not over, the rest because care after W no longer counts. Medians over
    completed referrals alone flatter slow specialties; this does not. -#}
with

referrals as (
    select * from {{ ref('fct_referrals') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

observed as (
    select
        referrals.specialty_group,
        referrals.outcome in ('completed_in_network', 'completed_out_of_network')
            and referrals.days_to_visit <= {{ var('attribution_window_days') }} as is_event,
        referrals.days_to_visit,
        least(
            {{ days_between('referrals.created_date', 'parameters.as_of_date') }},
            {{ var('attribution_window_days') }}
        ) as days_followed
    from referrals
    cross join parameters
),

observations as (
    select
        specialty_group,
        case when is_event then greatest(days_to_visit, 0) else days_followed end as day,
        case when is_event then 1 else 0 end as event
    from observed
),

grouped as (
    select specialty_group, day, event from observations
    union all
    select '(all)' as specialty_group, day, event from observations
),

per_day as (
    select
        specialty_group,
        day,
        sum(event) as visits,
        count(*) - sum(event) as censored,
        count(*) as leaving
    from grouped
    group by
        specialty_group,
        day
),

at_risk as (
    select
        per_day.*,
        sum(leaving) over (partition by specialty_group)
            - coalesce(sum(leaving) over (
                partition by specialty_group order by day
                rows between unbounded preceding and 1 preceding
            ), 0) as at_risk
    from per_day
),

factors as (
    select
        at_risk.*,
        1.0 - cast(visits as double) / at_risk as factor
    from at_risk
),

survival as (
    select
        factors.*,
        case
            when min(factor) over (partition by specialty_group order by day rows between unbounded preceding and current row) <= 0
                then 0.0
            else exp(sum(ln(case when factor > 0 then factor else 1.0 end)) over (partition by specialty_group order by day rows between unbounded preceding and current row))
        end as share_not_yet_seen
    from factors
),

final as (
    select
        specialty_group,
        cast(day as integer) as days_since_referral,
        cast(at_risk as integer) as at_risk,
        cast(visits as integer) as visits,
        cast(censored as integer) as censored,
        cast(round(share_not_yet_seen, 6) as double) as share_not_yet_seen,
        cast(round(1.0 - share_not_yet_seen, 6) as double) as share_seen
    from survival
)

select * from final
