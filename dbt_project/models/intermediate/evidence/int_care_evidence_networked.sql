{#- Care evidence (booked appointments and paid claim lines), one row each,
    with the provider's directory row on the evidence date (docs/metrics.md,
    Building blocks):
    - the directory row of an NPI on day d has effective_from <= d <=
      coalesce(effective_to, far future); of several, in_network = true wins,
      then the latest effective_from;
    - specialty group: the evidence's own code, else the directory row on its
      date, else the NPI's row with the latest effective_from; an NPI not in
      the directory gives no group;
    - in network on day d: that row says in_network; no row that day = out of
      network. Without any providers data, appointments are in network and
      claim lines have unknown (null) network status. -#}
with

appointments as (
    select * from {{ ref('int_appointments_booked') }}
),

claim_lines as (
    select * from {{ ref('int_claim_lines_paid') }}
),

providers as (
    select * from {{ ref('int_providers_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

evidence as (
    select
        'appointment' as evidence_type,
        appointment_id as evidence_id,
        patient_id,
        provider_npi,
        referral_id,
        visit_specialty_group as own_specialty_group,
        start_date as evidence_date,
        status as appointment_status,
        booked_at,
        is_attended,
        cast(null as decimal(18, 4)) as allowed_amount
    from appointments

    union all

    select
        'claim_line' as evidence_type,
        {{ dbt.concat(['claim_id', "'#'", 'cast(line_number as ' ~ dbt.type_string() ~ ')']) }} as evidence_id,
        patient_id,
        rendering_npi as provider_npi,
        referral_id,
        line_specialty_group as own_specialty_group,
        service_date as evidence_date,
        cast(null as {{ dbt.type_string() }}) as appointment_status,
        cast(null as timestamp) as booked_at,
        cast(null as boolean) as is_attended,
        allowed_amount
    from claim_lines
),

directory_matches as (
    select
        evidence.evidence_type,
        evidence.evidence_id,
        providers.is_in_network,
        providers.specialty_group,
        providers.organization_id,
        providers.effective_from
    from evidence
    inner join providers
        on evidence.provider_npi = providers.npi
        and {{ directory_row_covers('providers', 'evidence.evidence_date') }}
),

directory_on_date as (
    {{ deduplicate('directory_matches', 'evidence_type, evidence_id', directory_row_precedence()) }}
),

latest_directory_row as (
    {{ deduplicate('providers', 'npi', 'effective_from desc') }}
),

final as (
    select
        evidence.evidence_type,
        evidence.evidence_id,
        evidence.patient_id,
        evidence.provider_npi,
        evidence.referral_id,
        evidence.evidence_date,
        evidence.appointment_status,
        evidence.booked_at,
        evidence.is_attended,
        evidence.allowed_amount,
        coalesce(
            evidence.own_specialty_group,
            directory_on_date.specialty_group,
            latest_directory_row.specialty_group
        ) as specialty_group,
        case
            when parameters.has_providers then coalesce(directory_on_date.is_in_network, false)
            when evidence.evidence_type = 'appointment' then true
        end as is_in_network,
        directory_on_date.organization_id
    from evidence
    cross join parameters
    left join directory_on_date
        on evidence.evidence_type = directory_on_date.evidence_type
        and evidence.evidence_id = directory_on_date.evidence_id
    left join latest_directory_row
        on evidence.provider_npi = latest_directory_row.npi
)

select * from final
