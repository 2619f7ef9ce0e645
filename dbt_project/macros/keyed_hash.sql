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
