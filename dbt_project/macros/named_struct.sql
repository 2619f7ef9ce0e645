{#- A struct of (name, expression) pairs. Structs compare field by field in
    order, so min() of one picks, per group, the row first in that order: an
    aggregate in place of a sort of every group (int_referral_queue_routed). -#}
{% macro named_struct(fields) -%}
    {{ return(adapter.dispatch('named_struct', 'refloop')(fields)) }}
{%- endmacro %}

{% macro default__named_struct(fields) -%}
    named_struct({% for name, expression in fields %}'{{ name }}', {{ expression }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro duckdb__named_struct(fields) -%}
    struct_pack({% for name, expression in fields %}{{ name }} := {{ expression }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}
