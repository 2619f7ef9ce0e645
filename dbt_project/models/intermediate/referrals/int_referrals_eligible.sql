{#- Eligible referrals (docs/metrics.md, Building blocks): latest version,
    status not draft or entered-in-error, and date(created_at) <= T. A view:
    a filter over the version layer is cheaper to read six times than a
    million-row table is to write every build. -#}
{{ config(materialized='view') }}
with

referrals as (
    select * from {{ ref('int_referrals_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

eligible as (
    select
        referrals.*,
        cast(referrals.created_at as date) as created_date
    from referrals
    cross join parameters
    where referrals.referral_status not in ('draft', 'entered-in-error')
        and cast(referrals.created_at as date) <= parameters.as_of_date
),

final as (
    select * from eligible
)

select * from final
