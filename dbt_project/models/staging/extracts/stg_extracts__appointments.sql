with

source as (
    select * from {{ source('raw', 'appointments') }}
),

specialty_groups as (
    select * from {{ ref('specialty_groups') }}
),

renamed as (
    select
        source.appointment_id,
        source.patient_id,
        source.provider_npi,
        source.start_at,
        source.start_at_utc_offset,
        source.status,
        source.booked_at,
        source.updated_at,
        source.referral_id,
        upper(source.specialty_code) as specialty_code,
        -- the visit's own group; the provider's directory group is applied downstream
        coalesce(specialty_groups.specialty_group, upper(source.specialty_code)) as specialty_group,
        source.location_id,
        source.cancel_reason,
        source._file_name as source_file_name,
        source._line_number as source_line_number,
        source._loaded_at as loaded_at
    from source
    left join specialty_groups
        on upper(source.specialty_code) = specialty_groups.specialty_code
)

select * from renamed
