{#- Each NPI's directory row on T, with its earliest free slot dated on or
    after T: what routing and the referred-to checks of the queue look at. -#}
with

providers as (
    select * from {{ ref('int_providers_deduplicated') }}
),

slots as (
    select * from {{ ref('stg_extracts__slots') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

covering as (
    select providers.*
    from providers
    cross join parameters
    where {{ directory_row_covers('providers', 'parameters.as_of_date') }}
),

on_as_of_date as (
    {{ deduplicate('covering', 'npi', directory_row_precedence()) }}
),

free_slots as (
    select
        slots.provider_npi,
        min(slots.start_at) as next_free_slot_at
    from slots
    cross join parameters
    where slots.status = 'free'
        and cast(slots.start_at as date) >= parameters.as_of_date
    group by slots.provider_npi
),

final as (
    select
        on_as_of_date.npi,
        on_as_of_date.specialty_group,
        on_as_of_date.is_in_network,
        on_as_of_date.accepting_new_patients,
        on_as_of_date.zip3,
        on_as_of_date.organization_id,
        free_slots.next_free_slot_at
    from on_as_of_date
    left join free_slots
        on on_as_of_date.npi = free_slots.provider_npi
)

select * from final
