{#- Hex SHA-256 of `secret` and `value`: a surrogate that cannot be reversed
    (or recomputed from a guessed source id) without the warehouse's secret. -#}
{% macro keyed_hash(value, secret) -%}
    {{ return(adapter.dispatch('keyed_hash', 'refloop')(value, secret)) }}
{%- endmacro %}

{% macro default__keyed_hash(value, secret) -%}
    sha256({{ secret }} || '|' || {{ value }})
{%- endmacro %}

{% macro spark__keyed_hash(value, secret) -%}
    sha2(concat({{ secret }}, '|', {{ value }}), 256)
{%- endmacro %}

{#- The warehouse's patient surrogate: the first 32 hex characters of the
    keyed hash. Every mart uses this one definition, so keys join across marts. -#}
{% macro patient_key(patient_id, secret) -%}
    substr({{ keyed_hash(patient_id, secret) }}, 1, 32)
{%- endmacro %}
