"""OpenAI-compatible endpoints, shared by the LLM and remote-embedding stages.

    errors.py      an endpoint's HTTP answer mapped to what to do next (retry, wait, give up)
    ratelimit/     the requests- and tokens-per-minute limit every process shares through Redis
"""
