with

source as (
    select * from {{ source('raw', 'referrals') }}
),

specialty_groups as (
    select * from {{ ref('specialty_groups') }}
),

renamed as (
    select
        source.referral_id,
        source.patient_id,
        source.created_at,
        source.created_at_utc_offset,
        upper(source.requested_specialty_code) as requested_specialty_code,
        coalesce(specialty_groups.specialty_group, upper(source.requested_specialty_code)) as specialty_group,
        source.status as referral_status,
        source.updated_at,
        source.referring_npi,
        source.referring_location_id,
        source.referred_to_npi,
        source.priority,
        source.payer_id,
        upper(source.reason_code) as reason_code,
        source.expires_on,
        source._file_name as source_file_name,
        source._line_number as source_line_number,
        source._loaded_at as loaded_at
    from source
    left join specialty_groups
        on upper(source.requested_specialty_code) = specialty_groups.specialty_code
)

select * from renamed
