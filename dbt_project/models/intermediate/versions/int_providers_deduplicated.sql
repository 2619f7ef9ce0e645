{#- One directory row per (npi, effective_from): the file that sorts last wins, within a file the last line. -#}
with

versions as (
    select * from {{ ref('stg_extracts__providers') }}
),

latest as (
    {{ latest_versions('versions', ['npi', 'effective_from'], 'source_file_name desc, source_line_number desc') }}
),

final as (
    select * from latest
)

select * from final
