{#- The cost per outreach touch used by this build, by channel: the reference
    seed unless overridden with the `channel_costs` var. -#}
with

channel_costs as (
    select * from {{ ref('int_channel_costs') }}
),

final as (
    select
        channel,
        cast(cost_per_touch as decimal(18, 4)) as cost_per_touch,
        is_overridden
    from channel_costs
)

select * from final
