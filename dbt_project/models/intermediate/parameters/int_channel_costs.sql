{#- Cost per outreach touch by channel: the reference seed, unless the
    `channel_costs` var overrides it, e.g.
    --var 'channel_costs={"phone": 8.0, "sms": 0.04}'. -#}
with

seeded as (
    select * from {{ ref('engagement_channel_costs') }}
),

final as (
    select
        seeded.channel,
        {%- set overrides = var('channel_costs', {}) %}
        {%- if overrides %}
        case seeded.channel
            {%- for channel, cost in overrides.items() %}
            when '{{ channel }}' then cast({{ cost }} as decimal(18, 4))
            {%- endfor %}
            else seeded.cost_per_touch
        end as cost_per_touch,
        {%- else %}
        seeded.cost_per_touch,
        {%- endif %}
        {{ "seeded.channel in ('" ~ (overrides.keys() | join("', '")) ~ "')" if overrides else 'false' }} as is_overridden
    from seeded
)

select * from final
