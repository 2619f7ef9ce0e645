{#- One row per engagement_id: the file that sorts last wins, within a file the last line. -#}
with

versions as (
    select * from {{ ref('stg_extracts__engagements') }}
),

latest as (
    {{ latest_versions('versions', ['engagement_id'], 'source_file_name desc, source_line_number desc') }}
),

final as (
    select * from latest
)

select * from final
