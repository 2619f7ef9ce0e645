with

source as (
    select * from {{ source('raw', 'providers') }}
),

specialty_groups as (
    select * from {{ ref('specialty_groups') }}
),

renamed as (
    select
        source.npi,
        upper(source.specialty_code) as specialty_code,
        coalesce(specialty_groups.specialty_group, upper(source.specialty_code)) as specialty_group,
        source.in_network as is_in_network,
        source.effective_from,
        source.effective_to,
        source.organization_id,
        source.accepting_new_patients,
        source.zip3,
        source._file_name as source_file_name,
        source._line_number as source_line_number,
        source._loaded_at as loaded_at
    from source
    left join specialty_groups
        on upper(source.specialty_code) = specialty_groups.specialty_code
)

select * from renamed
