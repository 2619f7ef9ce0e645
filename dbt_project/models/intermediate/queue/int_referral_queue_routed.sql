{#- The recommended provider of each queue row that needs one (reroute rows,
    and follow_up rows with no attributed booked appointment): in network on
    T, not marked as not accepting new patients, of the requested specialty
    group, not the referred-to NPI; ranked by same zip3 as the patient first
    (when both are known), then the earliest free slot on or after T (none
    last), then the least NPI. -#}
{{ config(materialized='view') }}
with

queue as (
    select * from {{ ref('int_referral_queue_actions') }}
    where needs_recommendation
),

providers as (
    select * from {{ ref('int_providers_on_as_of_date') }}
),

patients as (
    select * from {{ ref('int_patients_deduplicated') }}
),

candidates as (
    select
        queue.referral_id,
        providers.npi,
        providers.next_free_slot_at,
        case when patients.zip3 is not null and providers.zip3 is not null and patients.zip3 = providers.zip3
            then 0 else 1 end as zip_rank,
        case when providers.next_free_slot_at is null then 1 else 0 end as no_slot_rank
    from queue
    inner join providers
        on queue.specialty_group = providers.specialty_group
        and providers.is_in_network
        and coalesce(providers.accepting_new_patients, true)
        and providers.npi != coalesce(queue.referred_to_npi, '')
    left join patients
        on queue.patient_id = patients.patient_id
),

ranked as (
    {#- the least (zip_rank, no_slot_rank, slot, npi) per referral; a slot is
        never null where no_slot_rank is 0, and npi is unique: one winner -#}
    select
        referral_id,
        min({{ named_struct([
            ('zip_rank', 'zip_rank'),
            ('no_slot_rank', 'no_slot_rank'),
            ('slot_at', "coalesce(next_free_slot_at, cast('9999-12-31 00:00:00' as timestamp))"),
            ('npi', 'npi'),
        ]) }}) as best
    from candidates
    group by referral_id
),

final as (
    select
        referral_id,
        ranked.best.npi as recommended_npi,
        case when ranked.best.no_slot_rank = 0 then ranked.best.slot_at end as recommended_next_free_slot_at,
        ranked.best.zip_rank = 0 as is_recommended_same_zip3
    from ranked
)

select * from final
