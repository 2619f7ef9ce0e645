{#- The outcome counts, rates (docs/metrics.md, Rates) and money of a set of
    eligible referrals, grouped by `dimensions`: the body of every
    agg_referrals_* model, so each rule is written once. A rate whose
    denominator is 0 is null; `network_leakage_rate` is null without providers
    data; metrics needing a missing entity come out null. `kept_by_cell`: on
    DuckDB a daily build computes again only the cells the referrals in scope
    fall in (macros/replace_cells.sql), for the fine grains whose cells a
    daily scope mostly leaves alone; a coarse aggregate is cheaper computed
    whole (a daily scope touches most of its cells). -#}


{% macro referral_outcomes() -%}
    {{ return(['completed_in_network', 'completed_out_of_network', 'scheduled_upcoming',
               'referral_cancelled', 'no_show', 'appointment_cancelled',
               'appointment_unresolved', 'unscheduled_open', 'unscheduled_expired']) }}
{%- endmacro %}

{% macro referral_aggregate(dimensions, kept_by_cell=false) %}
{%- if kept_by_cell %}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}, {{ ref('int_referral_scope_cells') }}
{{ replace_cells_config(dimensions) }}
{%- endif %}
with

referrals as (
    select * from {{ ref('fct_referrals') }} as referrals
    {%- if kept_by_cell %}
    {{ in_cells(dimensions, 'referrals') }}
    {%- endif %}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

counted as (
    select
        {%- for dimension in dimensions %}
        {{ dimension }},
        {%- endfor %}
        count(*) as referrals,
        {%- for outcome in referral_outcomes() %}
        count(case when outcome = '{{ outcome }}' then 1 end) as {{ outcome }},
        {%- endfor %}
        count(case when first_contact_at is not null or is_scheduled then 1 end) as contacted,
        count(case when is_scheduled then 1 end) as scheduled,
        count(case when outcome in ('completed_in_network', 'completed_out_of_network') then 1 end) as visit_completed,
        count(case when is_resolved then 1 end) as resolved,
        count(case when is_navigated then 1 end) as navigated,
        sum(case when is_completed_in_network then cast(is_loop_closed as integer) end) as loop_closed_in_network,
        sum(noshow_appointments) as noshow_appointments,
        sum(attended_appointments) as attended_appointments,
        {{ percentiles_cont('days_to_visit', [0.5, 0.9]) }} as days_to_visit_percentiles,
        {{ percentiles_cont('days_to_schedule', [0.5, 0.9]) }} as days_to_schedule_percentiles,
        {{ percentiles_cont('days_to_first_contact', [0.5, 0.9]) }} as days_to_first_contact_percentiles,
        sum(in_network_revenue) as captured_revenue,
        sum(out_of_network_revenue) as leaked_revenue
    from referrals
    group by
        {%- for dimension in dimensions %}
        {{ dimension }}{{ ',' if not loop.last }}
        {%- endfor %}
),

final as (
    select
        {%- for dimension in dimensions %}
        counted.{{ dimension }},
        {%- endfor %}
        cast(counted.referrals as integer) as referrals,
        {%- for outcome in referral_outcomes() %}
        cast(counted.{{ outcome }} as integer) as {{ outcome }},
        {%- endfor %}
        cast(counted.contacted as integer) as contacted,
        cast(counted.scheduled as integer) as scheduled,
        cast(counted.visit_completed as integer) as visit_completed,
        cast(counted.resolved as integer) as resolved,
        cast(counted.navigated as integer) as navigated,
        cast(counted.loop_closed_in_network as integer) as loop_closed_in_network,
        cast(counted.noshow_appointments as integer) as noshow_appointments,
        cast(counted.attended_appointments as integer) as attended_appointments,
        {{ safe_divide('counted.scheduled', 'counted.referrals') }} as conversion_rate,
        {{ safe_divide('counted.completed_in_network', 'counted.referrals') }} as completion_rate,
        {{ safe_divide('counted.completed_in_network', 'counted.resolved') }} as keepage_rate,
        {{ safe_divide('counted.resolved - counted.completed_in_network', 'counted.resolved') }} as total_leakage_rate,
        case when parameters.has_providers then
            {{ safe_divide('counted.completed_out_of_network', 'counted.completed_in_network + counted.completed_out_of_network') }}
        end as network_leakage_rate,
        {{ safe_divide('counted.noshow_appointments', 'counted.attended_appointments + counted.noshow_appointments') }} as no_show_rate,
        {{ safe_divide('counted.loop_closed_in_network', 'counted.completed_in_network') }} as loop_closure_rate,
        cast(round({{ array_element('counted.days_to_visit_percentiles', 1) }}, 2) as double) as median_days_to_visit,
        cast(round({{ array_element('counted.days_to_visit_percentiles', 2) }}, 2) as double) as p90_days_to_visit,
        cast(round({{ array_element('counted.days_to_schedule_percentiles', 1) }}, 2) as double) as median_days_to_schedule,
        cast(round({{ array_element('counted.days_to_schedule_percentiles', 2) }}, 2) as double) as p90_days_to_schedule,
        cast(round({{ array_element('counted.days_to_first_contact_percentiles', 1) }}, 2) as double) as median_days_to_first_contact,
        cast(round({{ array_element('counted.days_to_first_contact_percentiles', 2) }}, 2) as double) as p90_days_to_first_contact,
        cast(counted.captured_revenue as decimal(18, 2)) as captured_revenue,
        cast(counted.leaked_revenue as decimal(18, 2)) as leaked_revenue
    from counted
    cross join parameters
)

select * from final
{% endmacro %}
