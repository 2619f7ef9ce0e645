{#- One row per patient_id: the file that sorts last wins, within a file the last line. -#}
with

versions as (
    select * from {{ ref('stg_extracts__patients') }}
),

latest as (
    {{ latest_versions('versions', ['patient_id'], 'source_file_name desc, source_line_number desc') }}
),

final as (
    select * from latest
)

select * from final
