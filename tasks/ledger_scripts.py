"""The run ledger's Lua scripts: every counter change is one script, so a task that Celery
delivers again (acks_late after a killed worker, a re-send after a lost message) counts once.

tasks/ledger.py runs them; the key layout is in its docstring.
"""

# Claims a book for a run and records the work it brings.
# KEYS: [1] run hash, [2] books hash, [3] pending hash, [4] stale set, [5] fetched hash
# ARGV: [1] book id, [2] source label, [3] chunks in the book, [4] chunks already stored,
#       [5] ttl, [6] n, the number of batches, then n pairs (batch index, chunks in batch), then
#       the chunk ids the book no longer has (stale: deleted once it has landed)
# Returns: 1 registered with work, 2 registered and already complete, 0 the same source is
#          retrying (nothing counted again), -1 another source already claimed this book.
# Every source that ends its fetch here is written to the fetched hash (label -> book id), so
# a fetch sent again (a retry, or the client re-sending lost work) counts nothing twice: a
# second source of a claimed book counts as fetched and done once. Stale ids are added only by
# the source that claims the book: a second source's view of what is stale is the first
# source's fresh chunks, which it must never delete.
REGISTER_BOOK = """
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then
  if prev == ARGV[2] then return 0 end
  if redis.call('HSETNX', KEYS[5], ARGV[2], ARGV[1]) == 1 then
    redis.call('EXPIRE', KEYS[5], ARGV[5])
    redis.call('HINCRBY', KEYS[1], 'books_fetched', 1)
    redis.call('HINCRBY', KEYS[1], 'books_done', 1)
  end
  return -1
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[5])
redis.call('HINCRBY', KEYS[1], 'books_fetched', 1)
redis.call('HINCRBY', KEYS[1], 'chunks_known', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'chunks_stored', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'chunks_skipped', ARGV[4])
local pairs_end = 6 + 2 * tonumber(ARGV[6])
for i = pairs_end + 1, #ARGV do
  redis.call('SADD', KEYS[4], ARGV[i])
end
redis.call('EXPIRE', KEYS[4], ARGV[5])
if pairs_end == 6 then
  redis.call('HINCRBY', KEYS[1], 'books_done', 1)
  return 2
end
for i = 7, pairs_end, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[3], ARGV[5])
return 1
"""

# Marks one embed batch stored, and credits it to the worker node that stored it.
# KEYS: [1] run hash, [2] pending hash, [3] nodes hash
# ARGV: [1] batch index, [2] node name ('' credits no node), [3] ttl
# Returns: -1 already counted (a redelivery), 0 counted, 1 counted and the book is now complete.
COMPLETE_BATCH = """
local n = redis.call('HGET', KEYS[2], ARGV[1])
if not n then return -1 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'chunks_stored', n)
redis.call('HINCRBY', KEYS[1], 'batches_done', 1)
if ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
if redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('HINCRBY', KEYS[1], 'books_done', 1)
  return 1
end
return 0
"""

# Decides once per source whether its book is cut with a fine tail (tasks/fetch.split_batches):
# yes for the last book of the run to be cut, whose batches are the last to be queued, so the
# run ends on short tasks and no embed process waits long for another's final batch. A retried
# fetch gets the first answer again, so it cuts the same batches.
# KEYS: [1] run hash, [2] cuts hash, [3] failures hash
# ARGV: [1] source label, [2] ttl
# Returns: 1 fine tail, 0 even batches.
DECIDE_CUT = """
local cut = redis.call('HGET', KEYS[2], ARGV[1])
if cut then return tonumber(cut) end
local total = tonumber(redis.call('HGET', KEYS[1], 'books_total') or '0')
-- Sources cut so far (this one included) and sources that failed; a source that failed after
-- its cut is counted twice, which at worst gives one more book a fine tail.
local ended = redis.call('HLEN', KEYS[2]) + 1 + redis.call('HLEN', KEYS[3])
cut = (total > 0 and ended >= total) and 1 or 0
redis.call('HSET', KEYS[2], ARGV[1], cut)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return cut
"""

# Records a failed source once, however often the failure is reported. A book that failed
# after registering gives up its queued chunks (chunks_dropped); one that failed before any chunk
# was queued has ended its fetch (books_fetched).
# KEYS: [1] run hash, [2] failures hash, [3] pending hash of the book (may not exist)
# ARGV: [1] source label, [2] reason, [3] ttl, [4] '1' if the book had registered, else '0'
# Returns: 1 if this call recorded the failure, 0 if it was already recorded.
FAIL_SOURCE = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[3])
if ARGV[4] == '1' then
  local dropped = 0
  for _, n in ipairs(redis.call('HVALS', KEYS[3])) do dropped = dropped + tonumber(n) end
  redis.call('HINCRBY', KEYS[1], 'chunks_dropped', dropped)
else
  redis.call('HINCRBY', KEYS[1], 'books_fetched', 1)
end
redis.call('DEL', KEYS[3])
redis.call('HINCRBY', KEYS[1], 'books_failed', 1)
return 1
"""


# Records one chunk's context, or that it has none, once however often a task is redelivered.
# KEYS: [1] run hash, [2] contexts hash, [3] context failures hash
# ARGV: [1] chunk id, [2] 'ok' or 'failed', [3] the context or the reason, [4] ttl
# Returns: 1 recorded, 0 the chunk already had an outcome.
RECORD_CONTEXT = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  return 0
end
if ARGV[2] == 'ok' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'contexts_done', 1)
else
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'contexts_failed', 1)
end
return 1
"""


# Adds scanned pages to the set of pages their document's fetch waits for (tasks/ocr.py) and
# counts as queued for OCR those the set did not hold: a fetch delivered again re-sends only
# pages not yet read, which are in the set already, so each page is counted once.
# KEYS: [1] run hash, [2] the document's pending set
# ARGV: [1] ttl, [2] now (seconds since the epoch), then the page numbers
# Returns: the pages counted.
QUEUE_PAGES = """
local added = 0
for i = 3, #ARGV do
  added = added + redis.call('SADD', KEYS[2], ARGV[i])
end
redis.call('EXPIRE', KEYS[2], ARGV[1])
if added > 0 then
  redis.call('HINCRBY', KEYS[1], 'ocr_pages_queued', added)
  redis.call('HSETNX', KEYS[1], 'ocr_started_at', ARGV[2])
end
return added
"""

# Strikes a read page off its document's pending set and counts it read only if this call
# removed it: a page task delivered again finds it gone and counts nothing.
# KEYS: [1] run hash, [2] the document's pending set
# ARGV: [1] page number
# Returns: {1 if this call struck the page off, else 0; the pages still pending}.
READ_PAGE = """
local removed = redis.call('SREM', KEYS[2], ARGV[1])
if removed == 1 then
  redis.call('HINCRBY', KEYS[1], 'ocr_pages_read', 1)
end
return {removed, redis.call('SCARD', KEYS[2])}
"""
