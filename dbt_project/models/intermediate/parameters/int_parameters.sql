{#- One row: the metric parameters this build used (docs/metrics.md, Parameters).
    T = `as_of_date`: the var when given, else the greatest calendar date of any
    `updated_at` of loaded rows of referrals, appointments and claims, all versions. -#}
with

referral_versions as (
    select updated_at from {{ ref('stg_extracts__referrals') }}
),

appointment_versions as (
    select updated_at from {{ ref('stg_extracts__appointments') }}
),

claim_versions as (
    select updated_at from {{ ref('stg_extracts__claims') }}
),

all_versions as (
    select updated_at from referral_versions
    union all
    select updated_at from appointment_versions
    union all
    select updated_at from claim_versions
),

derived as (
    select max(cast(updated_at as date)) as data_as_of_date
    from all_versions
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
        cast({{ var('program_fixed_cost_per_year') }} as decimal(18, 2)) as program_fixed_cost_per_year
    from derived
)

select * from final
