with

referrals as (
    select * from {{ ref('int_referrals_eligible') }}
),

monthly as (
    select
        cast({{ dbt.date_trunc('month', 'created_date') }} as date) as created_month,
        specialty_group,
        count(*) as referrals
    from referrals
    group by
        cast({{ dbt.date_trunc('month', 'created_date') }} as date),
        specialty_group
),

final as (
    select
        created_month,
        specialty_group,
        referrals
    from monthly
)

select * from final
