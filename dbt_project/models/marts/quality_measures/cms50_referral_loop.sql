{#- CMS50 "Closing the Referral Loop: Receipt of Specialist Report", per
    measurement year, as docs/metrics.md defines it. It departs from the
    official eCQM: the extracts carry no PCP encounter, so the referral
    itself stands for the qualifying visit; the specialist report is the
    consult_report_received event of referral_events; there are no
    exclusions (hospice) for lack of data. -#}
with

first_referrals as (
    select * from {{ ref('int_cms50_first_referrals') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

yearly as (
    select
        measurement_year,
        count(*) as denominator,
        count(case when has_report_in_year then 1 end) as numerator
    from first_referrals
    group by measurement_year
),

final as (
    select
        yearly.measurement_year,
        cast(yearly.denominator as integer) as denominator,
        cast(case when parameters.has_referral_events then yearly.numerator end as integer) as numerator,
        case when parameters.has_referral_events
            then {{ safe_divide('yearly.numerator', 'yearly.denominator') }} end as rate,
        -- a year whose reporting period has not ended yet is still provisional
        cast({{ dbt.concat(['cast(yearly.measurement_year as ' ~ dbt.type_string() ~ ')', "'-12-31'"]) }} as date)
            > parameters.as_of_date as is_provisional
    from yearly
    cross join parameters
)

select * from final
