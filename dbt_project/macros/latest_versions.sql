{#- The version layer (models/intermediate/versions): the latest version of
    each record, kept incrementally so a daily load merges its new versions
    without rewriting history.

    Full build: every version is ranked. Incremental build: only the versions
    loaded since the table was last built (`loaded_at` above its greatest)
    are ranked, against the current rows they compete with; the latest-version
    rule gives the same result because the rank is a maximum. Whether a build
    is incremental is decided by the run (pipelines/defs/transform/dbt.py):
    a re-sent file that took versions out, changed SQL or a new target
    rebuild in full.

    DuckDB: delete+insert on the record's key (only the changed records are
    rewritten). Spark: insert_overwrite of the hash buckets the changed records
    fall in (`_version_bucket`), since Spark tables without Delta cannot merge.
    The bucket column is there on both engines, so the tables look the same.

    Use as the whole body of a CTE; it configures the model as well. -#}

{#- The incremental configuration keyed on `key_columns`, as above; also used
    by int_care_evidence_networked, which merges the same way. The model
    outputs a `_version_bucket` column (`version_bucket(key_columns)`). -#}
{% macro version_layer_config(key_columns) -%}
    {%- if target.type == 'spark' -%}
        {{ config(materialized='incremental', incremental_strategy='insert_overwrite',
                  partition_by=['_version_bucket'], on_schema_change='fail') }}
    {%- else -%}
        {{ config(materialized='incremental', incremental_strategy='delete+insert',
                  unique_key=key_columns, on_schema_change='fail') }}
    {%- endif -%}
{%- endmacro %}


{% macro latest_versions(versions, key_columns, order_by) -%}
    {{- version_layer_config(key_columns) -}}
    {%- set keys = key_columns | join(', ') -%}
    {%- if is_incremental() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name')
                      | reject('equalto', '_version_bucket') | list -%}
    {%- set column_list = columns | join(', ') -%}
    {#- newer than the newest version merged (a literal: macros/landed_since.sql) -#}
    {%- set new_versions = versions ~ '.loaded_at > ' ~ timestamp_literal('select max(loaded_at) from ' ~ this) -%}
    {%- if target.type == 'spark' -%}
    {#- every current row of the buckets the new versions fall in -#}
    {%- set in_scope = '_version_bucket in (select ' ~ version_bucket(key_columns) ~ ' from ' ~ versions ~ ' where ' ~ new_versions ~ ')' -%}
    {%- set candidates -%}
        (
            select {{ column_list }} from {{ versions }} where {{ new_versions }}
            union all
            select {{ column_list }} from {{ this }} as current_row where {{ in_scope }}
        ) as candidates
    {%- endset -%}
    select {{ column_list }}, {{ version_bucket(key_columns) }} as _version_bucket
    from (
        {{ deduplicate(candidates, keys, order_by) }}
    ) as latest
    {%- else -%}
    {#- The current rows of the records that have new versions compete with
        them by the columns the rule orders on alone (read for every row of
        the table, all columns would be read for every row); where a current
        row wins, and on a tie, the record keeps it: nothing is written. -#}
    {%- set matches = [] -%}
    {%- for key in key_columns -%}{%- do matches.append('current_row.' ~ key ~ ' = ' ~ versions ~ '.' ~ key) -%}{%- endfor -%}
    {%- set ordered_by = [] -%}
    {%- for term in order_by.split(',') -%}{%- do ordered_by.append(term.split()[0]) -%}{%- endfor -%}
    {%- set candidates -%}
        (
            select {{ column_list }}, false as _is_current from {{ versions }} where {{ new_versions }}
            union all by name
            select {{ keys }}, {{ ordered_by | join(', ') }}, true as _is_current
            from {{ this }} as current_row
            where exists (select 1 from {{ versions }} where {{ new_versions }} and {{ matches | join(' and ') }})
        ) as candidates
    {%- endset -%}
    select {{ column_list }}, {{ version_bucket(key_columns) }} as _version_bucket
    from (
        {{ deduplicate(candidates, keys, order_by ~ ', _is_current desc') }}
    ) as latest
    where not _is_current
    {%- endif -%}
    {%- else -%}
    select *, {{ version_bucket(key_columns) }} as _version_bucket
    from (
        {{ deduplicate(versions, keys, order_by) }}
    ) as latest
    {%- endif -%}
{%- endmacro %}


{#- A stable bucket (0-63) of a record's key: Spark's unit of rewrite. -#}
{% macro version_bucket(key_columns) -%}
    {{ return(adapter.dispatch('version_bucket', 'refloop')(key_columns)) }}
{%- endmacro %}

{% macro default__version_bucket(key_columns) -%}
    cast(hash({{ key_columns | join(', ') }}) % 64 as integer)
{%- endmacro %}

{% macro spark__version_bucket(key_columns) -%}
    cast(pmod(hash({{ key_columns | join(', ') }}), 64) as integer)
{%- endmacro %}
