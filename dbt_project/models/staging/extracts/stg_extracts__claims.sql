with

source as (
    select * from {{ source('raw', 'claims') }}
),

specialty_groups as (
    select * from {{ ref('specialty_groups') }}
),

renamed as (
    select
        source.claim_id,
        source.line_number,
        source.patient_id,
        source.rendering_npi,
        source.service_date,
        source.allowed_amount,
        source.claim_status,
        source.updated_at,
        upper(source.rendering_specialty_code) as rendering_specialty_code,
        coalesce(specialty_groups.specialty_group, upper(source.rendering_specialty_code)) as specialty_group,
        source.referring_npi,
        source.referral_id,
        upper(source.procedure_code) as procedure_code,
        source.place_of_service,
        source.paid_amount,
        source._file_name as source_file_name,
        source._line_number as source_line_number,
        source._loaded_at as loaded_at
    from source
    left join specialty_groups
        on upper(source.rendering_specialty_code) = specialty_groups.specialty_code
)

select * from renamed
