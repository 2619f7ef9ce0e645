{#- The attribution the last build left for the patients a daily build
    attributes again (int_care_evidence_attribution_scope), copied before
    int_care_evidence_attributed replaces their rows: int_referral_scope
    compares it with the new attribution, so only the referrals whose
    attributed evidence changed are computed again (a new claim line that
    attributes to nothing changes no referral). Read as a plain relation, as
    the last build left it. Empty when the attribution scope is (a full
    build, Spark) and on the first build. -#}
-- depends_on: {{ ref('int_care_evidence_attribution_scope') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema,
                                        identifier='int_care_evidence_attributed') if execute else none %}

with

attribution_scope as (
    select * from {{ ref('int_care_evidence_attribution_scope') }}
),

{% if previous is none -%}
final as (
    select patient_id from attribution_scope where 1 = 0
)
{%- else -%}
final as (
    select *
    from {{ previous }}
    {#- by row id on DuckDB (macros/replace_scope.sql) #}
    where {{ rows_with_keys(previous, 'patient_id', 'select patient_id from attribution_scope') }}
)
{%- endif %}

select * from final
