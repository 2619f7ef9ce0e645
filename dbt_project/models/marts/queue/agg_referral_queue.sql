{#- Queue volume by action, age band, specialty group and referring practice. -#}
with

queue as (
    select * from {{ ref('referral_queue') }}
),

banded as (
    select
        action,
        case
            when days_open < 14 then 1
            when days_open < 30 then 2
            when days_open < 60 then 3
            when days_open < 90 then 4
            when days_open < 180 then 5
            else 6
        end as age_band_order,
        specialty_group,
        referring_location_id,
        is_duplicate
    from queue
),

final as (
    select
        action,
        cast(age_band_order as integer) as age_band_order,
        case age_band_order
            when 1 then '0-13 days'
            when 2 then '14-29 days'
            when 3 then '30-59 days'
            when 4 then '60-89 days'
            when 5 then '90-179 days'
            else '180+ days'
        end as age_band,
        specialty_group,
        referring_location_id,
        cast(count(*) as integer) as referrals,
        cast(count(case when is_duplicate then 1 end) as integer) as duplicates
    from banded
    group by
        action,
        age_band_order,
        specialty_group,
        referring_location_id
)

select * from final
