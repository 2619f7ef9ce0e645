{#- Turnaround per created month and specialty group: how many referrals
    reached each step, and the median and 90th percentile (continuous) of
    whole days to it (rounded to 2 decimals): first contact, booking, visit (from created_date) and
    consult report (from the visit). Medians over reached steps only: see
    agg_time_to_visit_curve for the censoring-aware view. -#}
with

referrals as (
    select * from {{ ref('fct_referrals') }}
),

steps as (
    select
        created_month,
        specialty_group,
        count(*) as referrals,
        {%- for step in ['first_contact', 'schedule', 'visit', 'report'] %}
        count(days_to_{{ step }}) as referrals_with_{{ step }},
        {{ percentiles_cont('days_to_' ~ step, [0.5, 0.9]) }} as days_to_{{ step }}_percentiles{{ ',' if not loop.last }}
        {%- endfor %}
    from referrals
    group by
        created_month,
        specialty_group
),

final as (
    select
        created_month,
        specialty_group,
        cast(referrals as integer) as referrals,
        {%- for step in ['first_contact', 'schedule', 'visit', 'report'] %}
        cast(referrals_with_{{ step }} as integer) as referrals_with_{{ step }},
        cast(round({{ array_element('days_to_' ~ step ~ '_percentiles', 1) }}, 2) as double) as median_days_to_{{ step }},
        cast(round({{ array_element('days_to_' ~ step ~ '_percentiles', 2) }}, 2) as double) as p90_days_to_{{ step }}{{ ',' if not loop.last }}
        {%- endfor %}
    from steps
)

select * from final
