{#- Conversion by number of outreach touches (the diminishing-returns curve),
    per created month, specialty group, referring practice and payer; 6 or more touches share one band.
    Additive: sum over months and groups, then divide.
    Kept by cell on DuckDB (macros/replace_cells.sql): a daily build computes
    again the rows of the created month, specialty group, referring practice
    and payer of each referral in scope, before and after; the other rows stay. -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}, {{ ref('int_referral_scope_cells') }}, {{ ref('fct_referrals') }}
{%- set cells = ['created_month', 'specialty_group', 'referring_location_id', 'payer_id'] %}
{{ replace_cells_config(cells) }}
with

outreach as (
    select * from {{ ref('fct_referral_outreach') }} as outreach
    {{ in_cells(cells, 'outreach') }}
),

final as (
    select
        created_month,
        specialty_group,
        referring_location_id,
        payer_id,
        cast(case when outreach_touches >= 6 then 6 else outreach_touches end as integer) as touches,
        case when outreach_touches >= 6 then '6+' else cast(outreach_touches as {{ dbt.type_string() }}) end as touches_label,
        cast(count(*) as integer) as referrals,
        cast(count(case when is_scheduled then 1 end) as integer) as scheduled,
        cast(count(case when is_completed_in_network then 1 end) as integer) as completed_in_network,
        cast(count(case when has_phone_touch then 1 end) as integer) as with_phone,
        cast(count(case when has_phone_touch and is_scheduled then 1 end) as integer) as with_phone_scheduled,
        cast(count(case when is_escalated_to_phone then 1 end) as integer) as escalated_to_phone,
        cast(count(case when is_escalated_to_phone and is_scheduled then 1 end) as integer) as escalated_scheduled,
        cast(sum(outreach_cost) as decimal(18, 2)) as outreach_cost
    from outreach
    group by
        created_month,
        specialty_group,
        referring_location_id,
        payer_id,
        case when outreach_touches >= 6 then 6 else outreach_touches end,
        case when outreach_touches >= 6 then '6+' else cast(outreach_touches as {{ dbt.type_string() }}) end
)

select * from final
