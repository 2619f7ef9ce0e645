{#- One row: the metric parameters this build used (docs/metrics.md, Parameters).
    T = `as_of_date`: the var when given, else the greatest calendar date of any
    `updated_at` of loaded rows of referrals, appointments and claims, all versions. -#}
with

files as (
    select * from {{ ref('stg_extracts__files') }}
),

{#- An entity is present when a file of it was accepted (a header-only file
    counts); metrics that need a missing entity are null, never 0. -#}
entities_present as (
    select
        {%- for entity in ['appointments', 'claims', 'providers', 'patients', 'engagements', 'referral_events', 'slots'] %}
        count(case when entity = '{{ entity }}' and file_status = 'loaded' then 1 end) > 0 as has_{{ entity }}{{ ',' if not loop.last }}
        {%- endfor %}
    from files
),

derived as (
    {{ data_as_of_date() }}
),

final as (
    select
        {% if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as date) as as_of_date,
        {%- else -%}
        data_as_of_date as as_of_date,
        {%- endif %}
        data_as_of_date,
        cast({{ var('attribution_window_days') }} as integer) as attribution_window_days,
        cast({{ var('follow_up_after_days') }} as integer) as follow_up_after_days,
        cast({{ var('duplicate_window_days') }} as integer) as duplicate_window_days,
        cast({{ var('program_fixed_cost_per_year') }} as decimal(18, 2)) as program_fixed_cost_per_year,
        entities_present.has_appointments,
        entities_present.has_claims,
        entities_present.has_providers,
        entities_present.has_patients,
        entities_present.has_engagements,
        entities_present.has_referral_events,
        entities_present.has_slots
    from derived
    cross join entities_present
)

select * from final
