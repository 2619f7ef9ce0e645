{#- The first consult report received for each referral (closes the loop). -#}
{{ config(materialized='view') }}
with

events as (
    select * from {{ ref('int_referral_events_deduplicated') }}
),

final as (
    select
        referral_id,
        min(occurred_at) as report_received_at
    from events
    where event_type = 'consult_report_received'
    group by referral_id
)

select * from final
