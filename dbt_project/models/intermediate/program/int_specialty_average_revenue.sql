{#- Average revenue of each specialty group (docs/metrics.md, Money): mean
    in_network_revenue, zeros included, over its completed_in_network
    referrals, over all loaded data. A group with none has 0; without claims
    or providers data it is unknown (null). -#}
with

referrals as (
    select * from {{ ref('fct_referrals') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

groups as (
    select distinct specialty_group from referrals
),

completed as (
    select
        specialty_group,
        -- the exact decimal sum, then one division in double: the same on every engine
        {{ safe_divide('cast(sum(in_network_revenue) as double)', 'count(in_network_revenue)') }} as average_revenue
    from referrals
    where is_completed_in_network
    group by specialty_group
),

final as (
    select
        groups.specialty_group,
        case when parameters.has_claims and parameters.has_providers
            then cast(coalesce(completed.average_revenue, 0) as double)
        end as average_revenue
    from groups
    cross join parameters
    left join completed
        on groups.specialty_group = completed.specialty_group
)

select * from final
