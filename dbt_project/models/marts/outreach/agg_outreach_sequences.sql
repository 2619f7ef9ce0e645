{#- Referrals by their first three outreach channels (e.g. `sms > sms > phone`),
    per created month, specialty group, referring practice and payer, with how many were scheduled and
    completed in network. Referrals without outreach are left out.
    Kept by cell on DuckDB (macros/replace_cells.sql), as agg_outreach_touch_curve. -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}, {{ ref('int_referral_scope_cells') }}, {{ ref('fct_referrals') }}
{%- set cells = ['created_month', 'specialty_group', 'referring_location_id', 'payer_id'] %}
{{ replace_cells_config(cells) }}
with

outreach as (
    select * from {{ ref('fct_referral_outreach') }} as outreach
    where first_three_channels is not null
    {{ in_cells(cells, 'outreach', connector='and') }}
),

final as (
    select
        created_month,
        specialty_group,
        referring_location_id,
        payer_id,
        first_three_channels,
        cast(count(*) as integer) as referrals,
        cast(count(case when is_scheduled then 1 end) as integer) as scheduled,
        cast(count(case when is_completed_in_network then 1 end) as integer) as completed_in_network
    from outreach
    group by created_month, specialty_group, referring_location_id, payer_id, first_three_channels
)

select * from final
