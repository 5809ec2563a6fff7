//! Scripting compared with Redis 7.0, reply by reply on the exact wire bytes, in RESP2 and
//! RESP3: a corpus of a few hundred scripts generated from templates (each Lua value
//! returned, each reply type converted to Lua and back, with `redis.setresp(2|3)`, errors
//! and their positions, pcall, status and error tables, KEYS/ARGV and numkeys checks, cjson
//! round trips and errors, cmsgpack and struct, bit ops, the sandbox and the global protection, read-only
//! refusals and shebang flags, EVALSHA, SCRIPT subcommands, math.random's sequence).
//!
//! Not compared: `error({})` (an error table without `err` crashes Redis 7.0.15) and
//! SCRIPT HELP (picket offers no SCRIPT DEBUG). `pairs(_G)` is compared: the same globals.

mod common;
mod hashes_util;

use common::Pair;
use hashes_util::RawConn;

/// One case: commands run first (their replies compared too), then the EVAL arguments.
struct Case {
    setup: Vec<Vec<String>>,
    cmd: Vec<String>,
}

fn eval(script: &str, keys: &[&str], argv: &[&str]) -> Vec<String> {
    let mut v = vec![
        "EVAL".to_string(),
        script.to_string(),
        keys.len().to_string(),
    ];
    v.extend(keys.iter().map(|s| s.to_string()));
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}

fn case(script: &str) -> Case {
    Case {
        setup: Vec::new(),
        cmd: eval(script, &[], &[]),
    }
}

fn with(setup: &[&str], cmd: Vec<String>) -> Case {
    Case {
        setup: setup
            .iter()
            .map(|l| l.split(' ').map(|s| s.to_string()).collect())
            .collect(),
        cmd,
    }
}

fn raw(args: &[&str]) -> Case {
    Case {
        setup: Vec::new(),
        cmd: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// The data the reply-conversion cases read.
const DATA: &[&str] = &[
    "SET str hello",
    "SET num 42",
    "RPUSH list a b c",
    "HSET hash f1 v1 f2 v2",
    "SADD set m1",
    "ZADD zset 1.5 a 2 b",
];

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();

    // Lua values to replies, under the script's RESP2 and RESP3.
    let values = [
        "0",
        "1",
        "-1",
        "3.99",
        "-3.99",
        "1e10",
        "2^53",
        "2^63",
        "-2^63",
        "0/0",
        "1/0",
        "-1/0",
        "''",
        "'x'",
        "'a\\0b'",
        "true",
        "false",
        "nil",
        "{}",
        "{1,2,3}",
        "{1,'two',{3,{4}},false,true}",
        "{1,nil,3}",
        "{nil,2}",
        "{a=1}",
        "{ok='fine'}",
        "{ok='two\\r\\nlines'}",
        "{ok=1}",
        "{err='MY failure'}",
        "{err='nocode'}",
        "{err=''}",
        "{err=1}",
        "{err='ERR x', ok='y'}",
        "{double=1.5}",
        "{double=3}",
        "{double=1/0}",
        "{double=-1/0}",
        "{double='x'}",
        "{big_number='123456789012345678901234567890'}",
        "{verbatim_string={format='txt', string='hello'}}",
        "{map={a=1}}",
        "{map={}}",
        "{set={a=true}}",
        "{set={}}",
        "{map={a={1,2}}}",
        "{set={x=true}, 1}",
        "redis.status_reply('PONG')",
        "redis.error_reply('MYERR boom')",
        "redis.error_reply('-MYERR boom')",
        "redis.error_reply('no code')",
        "redis.error_reply(1)",
        "redis.status_reply()",
        "{redis.status_reply('A'), redis.error_reply('B c')}",
        "function() end",
        "coroutine.create(function() end)",
    ];
    for v in values {
        cases.push(case(&format!("return {v}")));
        cases.push(case(&format!("redis.setresp(3) return {v}")));
    }

    // Replies to Lua values (seen through cjson and type()), and back to replies.
    let calls = [
        "'get','str'",
        "'get','missing'",
        "'incr','num'",
        "'ping'",
        "'set','k','v'",
        "'lrange','list',0,-1",
        "'lrange','missing',0,-1",
        "'hgetall','hash'",
        "'hgetall','missing'",
        "'smembers','set'",
        "'zscore','zset','a'",
        "'zscore','zset','nope'",
        "'zrange','zset',0,-1,'withscores'",
        "'type','list'",
        "'exists','str','list','x'",
        "'lpop','missing',2",
        "'hget','hash','f1'",
        "'hmget','hash','f1','nope'",
        "'incrbyfloat','num','0.5'",
        "'object','encoding','list'",
        "'echo',12345678901234567",
        "'echo',3.5",
        "'echo',-0.1",
        "'strlen','str'",
    ];
    for c in calls {
        for resp in [2, 3] {
            cases.push(with(
                DATA,
                eval(
                    &format!("redis.setresp({resp}) return redis.call({c})"),
                    &[],
                    &[],
                ),
            ));
            cases.push(with(
                DATA,
                eval(
                    &format!(
                        "redis.setresp({resp}) local r = redis.call({c}) if type(r) == 'table' then return cjson.encode(r) end return {{type(r), tostring(r)}}"
                    ),
                    &[],
                    &[],
                ),
            ));
        }
    }

    // Errors, raised and caught.
    let errors = [
        "error('boom')",
        "error('boom', 0)",
        "error({err='MY x'})",
        "error({err='MY x', source='a', line=3})",
        "error()",
        "error(nil)",
        "error(123)",
        "local x = nil; return x.y",
        "local x = nil; x()",
        "return 1 + {}",
        "return #nil",
        "return redis.call('incr')",
        "return redis.call('nosuchcommand')",
        "return redis.call('config')",
        "return redis.call('config', 'nosuch')",
        "return redis.call()",
        "return redis.call({})",
        "return redis.call('get', {})",
        "return redis.call('get', nil)",
        "return redis.call('multi')",
        "return redis.call('exec')",
        "return redis.call('subscribe', 'c')",
        "return redis.call('eval', 'return 1', 0)",
        "return redis.call('blpop', 'l', 0)",
        "return redis.call('script', 'load', 'return 1')",
        "return redis.call('set', 'str', 'x', 'bad')",
        "return redis.call('lpush', 'str', 'x')",
        "return redis.pcall('lpush', 'str', 'x')",
        "return redis.pcall('nosuchcommand')",
        "return redis.pcall()",
        "local r = redis.pcall('incr', 'str') return r.err",
        "local ok, e = pcall(redis.call, 'incr', 'str') return {tostring(ok), e}",
        "local ok, e = pcall(error, 'x') return {tostring(ok), e}",
        "local ok, e = pcall(error, {err='T y'}) return {tostring(ok), e}",
        "local ok, e = pcall(error, {1}) return {tostring(ok), type(e)}",
        "local ok, e = pcall(function() return y end) return {tostring(ok), e}",
        "return {pcall(function() return 1, 2 end)}",
        "local ok, e = xpcall(function() error('q') end, function(m) return 'h:' .. m end) return {tostring(ok), e}",
        "return redis.setresp(4)",
        "return redis.setresp()",
        "return redis.set_repl(99)",
        "return redis.set_repl()",
        "return redis.log()",
        "return redis.log('x', 'y')",
        "return redis.log(99, 'y')",
        "return redis.sha1hex()",
        "local function f(n) return f(n + 1) + 1 end return f(1)",
        "assert(false)",
        "assert(false, 'my message')",
        "assert(1 == 2, 'nope')",
        "string.rep()",
        "return string.rep('x', -1)",
        "return tonumber('x', 99)",
    ];
    for e in errors {
        cases.push(with(DATA, eval(e, &[], &[])));
    }

    // KEYS and ARGV, numkeys.
    cases.push(with(&[], eval("return {KEYS, ARGV}", &["a", "b"], &["c"])));
    cases.push(with(&[], eval("return KEYS", &[], &["x", "y"])));
    cases.push(with(&[], eval("return #ARGV", &["k"], &["1", "2", "3"])));
    cases.push(with(&[], eval("return KEYS[1] .. ARGV[1]", &["k"], &["v"])));
    cases.push(with(
        &[],
        eval(
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["key"],
            &["val"],
        ),
    ));
    cases.push(raw(&["EVAL", "return 1", "2", "a"]));
    cases.push(raw(&["EVAL", "return 1", "-1"]));
    cases.push(raw(&["EVAL", "return 1", "x"]));
    cases.push(raw(&["EVAL", "return 1"]));
    cases.push(raw(&["EVAL", "return ARGV[1]", "0", "only-argv"]));

    // cjson.
    let json = [
        "cjson.encode({1,2,3})",
        "cjson.encode({a=1})",
        "cjson.encode({})",
        "cjson.encode('x\"y\\\\z/\\1\\127')",
        "cjson.encode(1.5)",
        "cjson.encode(0.1)",
        "cjson.encode(1e300)",
        "cjson.encode(-0)",
        "cjson.encode(123456789012345)",
        "cjson.encode(3.14159265358979)",
        "cjson.encode(true)",
        "cjson.encode(cjson.null)",
        "cjson.encode({[1]=1,[5]=2})",
        "cjson.encode({[1]=1,[15]=2})",
        "cjson.encode({[1.5]=1})",
        "cjson.encode({[true]=1})",
        "cjson.encode(function() end)",
        "cjson.encode(0/0)",
        "cjson.encode()",
        "cjson.encode(1, 2)",
        "cjson.encode({{{{{{{{{{1}}}}}}}}}})",
        "cjson.encode(cjson.decode('[1,2,{\"a\":[true,false,null]},\"\\\\u00e9\"]'))",
        "cjson.encode(cjson.decode('{\"a\":{\"b\":[1,2.5,-3e2]}}'))",
        "cjson.encode(cjson.decode('\"\\\\ud83d\\\\ude00\"'))",
        "cjson.decode('[1,2')",
        "cjson.decode('{\"a\" 1}')",
        "cjson.decode('{1:2}')",
        "cjson.decode('')",
        "cjson.decode('  ')",
        "cjson.decode('nul')",
        "cjson.decode('[1,]')",
        "cjson.decode('\"abc')",
        "cjson.decode('\"\\\\x\"')",
        "cjson.decode('\"\\\\u12\"')",
        "cjson.decode('0x10')",
        "cjson.decode('-5')",
        "cjson.decode('1e2')",
        "cjson.decode('[01]')",
        "cjson.decode('true')",
        "tostring(cjson.decode('null'))",
        "cjson.decode('[1] x')",
        "cjson.decode({})",
        "cjson.decode()",
        "type(cjson.null)",
        "{cjson._NAME, cjson._VERSION}",
        "{cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}",
        "{cjson.encode_sparse_array()}",
    ];
    for j in json {
        cases.push(case(&format!("return {j}")));
    }

    // cmsgpack (packed bytes seen as hex).
    let hex = "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end ";
    let msgpack = [
        "hex(cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649))",
        "hex(cmsgpack.pack(1.5, 0.1, 1e300, -0.25, 1/0, -1/0, 2^63, -2^63))",
        "hex(cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32), string.rep('z', 256)))",
        "hex(cmsgpack.pack(true, false, nil))",
        "hex(cmsgpack.pack({1, 2, 3}, {a = 1}, {}, {1, nil, 3}, {[2] = 'x'}))",
        "hex(cmsgpack.pack({{{{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}}}}}))",
        "hex(cmsgpack.pack(string.rep('a', 70000)):sub(1, 20))",
        "hex(cmsgpack.pack(function() end))",
        "cmsgpack.pack()",
        "{cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, {five = 5}, true))}",
        "cjson.encode({cmsgpack.unpack(cmsgpack.pack({1, {2, {3}}}, {x = {y = 'z'}}))})",
        "{cmsgpack.unpack(cmsgpack.pack(-1.5, 2^40, -2^40))}",
        "{cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
        "{cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
        "{cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
        "{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
        "{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
        "{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)}",
        "cmsgpack.unpack_one(cmsgpack.pack(1), 5)",
        "cmsgpack.unpack_limit(cmsgpack.pack(1), -1)",
        "cmsgpack.unpack('\\196')",
        "cmsgpack.unpack('\\205\\1')",
        "cmsgpack.unpack('\\129\\192\\1')",
        "cmsgpack.unpack()",
        "cmsgpack.unpack({})",
        "{cmsgpack.unpack('')}",
        "{cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
    ];
    for m in msgpack {
        cases.push(case(&format!("{hex}return {m}")));
    }

    // struct.
    let structs = [
        "hex(struct.pack('>i', 1))",
        "hex(struct.pack('<i', -2))",
        "hex(struct.pack('bBhHlLT', -1, 255, -300, 65535, -5, 2^40, 7))",
        "hex(struct.pack('i2I3i8', -1, 70000, 2^53))",
        "hex(struct.pack('>d<f', 1.5, -0.25))",
        "hex(struct.pack('c3', 'abcdef'))",
        "hex(struct.pack('c0s', 'xy', 'zz'))",
        "hex(struct.pack('!4 b i', 1, 2))",
        "hex(struct.pack('!8 bd', 1, 2))",
        "hex(struct.pack('bxxb', 1, 2))",
        "struct.pack('c5', 'ab')",
        "struct.pack('i', 'x')",
        "struct.pack('i')",
        "struct.pack('q', 1)",
        "struct.pack('!3', 1)",
        "struct.pack('i33', 1)",
        "struct.pack('i99999999999', 1)",
        "{struct.unpack('>i', struct.pack('>i', -7))}",
        "{struct.unpack('bBhHlL', struct.pack('bBhHlL', -1, 255, -300, 65535, -5, 2^40))}",
        "{struct.unpack('<d>f', struct.pack('<d>f', 3.25, 0.5))}",
        "{struct.unpack('s', 'abc\\0def')}",
        "{struct.unpack('bc0', struct.pack('b', 3) .. 'xyz')}",
        "{struct.unpack('i', struct.pack('ii', 1, 2), 5)}",
        "{struct.unpack('i', 'ab')}",
        "{struct.unpack('s', 'abc')}",
        "{struct.unpack('c0', 'abc')}",
        "{struct.unpack('i', 'abcd', 0)}",
        "{struct.unpack('i3', 'abc')}",
        "{struct.unpack('!4 bi', struct.pack('!4 bi', 1, 2))}",
        "{struct.size('bhilTfd'), struct.size('!8 bd'), struct.size('c10'), struct.size('i7'), struct.size('z')}",
        "struct.size('s')",
        "struct.size('c0')",
        "struct.size('!3')",
        "struct.size('y?')",
    ];
    for m in structs {
        cases.push(case(&format!("{hex}return {m}")));
    }

    // bit.
    let bits = [
        "bit.tobit(0xffffffff)",
        "bit.tobit(2^32 + 5)",
        "bit.tobit(-1)",
        "bit.tobit(1.5)",
        "bit.tobit('7')",
        "bit.bnot(0)",
        "bit.band(0xff, 0x0f, 0x3)",
        "bit.bor(1, 2, 4, 8)",
        "bit.bxor(5, 3)",
        "bit.lshift(1, 31)",
        "bit.lshift(1, 32)",
        "bit.rshift(-1, 28)",
        "bit.arshift(-256, 4)",
        "bit.rol(0x12345678, 8)",
        "bit.ror(0x12345678, 8)",
        "bit.bswap(0x12345678)",
        "bit.tohex(255)",
        "bit.tohex(-1, -4)",
        "bit.tohex(0x1234, 2)",
        "bit.tohex(1, 20)",
        "bit.band()",
        "bit.band(1, 'x')",
        "bit.bor({})",
    ];
    for b in bits {
        cases.push(case(&format!("return {b}")));
    }

    // The sandbox and the global protection.
    let sandbox = [
        "x = 5",
        "return y",
        "string.foo = 1",
        "math.bar = 1",
        "redis.x = 1",
        "_G.z = 1",
        "return print",
        "return os",
        "return io",
        "return require",
        "return debug",
        "return loadfile",
        "return dofile",
        "return getfenv",
        "return newproxy",
        "return module",
        "return type(loadstring)",
        "return loadstring('return 1 + 1')()",
        "return {loadstring('syntax error here')}",
        "local f = loadstring('x = 1') return {pcall(f)}",
        "return type(_G)",
        "return _G.string == string",
        "return rawget(_G, 'nothere') == nil",
        "return {type(redis.call), type(redis.pcall), type(redis.log), type(redis.sha1hex)}",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
        "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}",
        "return redis.replicate_commands()",
        "return redis.breakpoint()",
        "return redis.debug('x')",
        "return redis.sha1hex('')",
        "return redis.sha1hex('hello')",
        "return redis.sha1hex(123)",
        "return redis.log(redis.LOG_DEBUG, 'debug line')",
        "redis.set_repl(redis.REPL_ALL) return 1",
        "return _VERSION",
        "return {tostring(1e15), tostring(1e16), tostring(0.1), tostring(-0)}",
        "return string.format('%5.2f|%d|%s|%q', 3.14159, 42, 'x', 'a\"b')",
        "return {string.byte('ABC', 1, -1)}",
        "return string.gsub('hello world', 'o', '0')",
        "return {string.find('hello', 'l+')}",
        "return table.concat({1, 2, 3}, ',')",
        "local t = {3, 1, 2} table.sort(t) return t",
        "return {unpack({1, 2, 3})}",
        "return select('#', 1, nil, 3)",
        "return {math.floor(3.7), math.ceil(3.2), math.max(1, 5, 3), math.fmod(7, 3), math.huge == 1/0}",
        "return math.pi",
        "return tostring(math.pi)",
        "return {math.random(), math.random(), math.random(10), math.random(5, 7)}",
        "math.randomseed(42) return {math.random(100), math.random(100)}",
        "return math.random(0)",
        "return math.random(1, 2, 3)",
        "return coroutine.wrap(function() coroutine.yield(7) end)()",
        "return {gcinfo() > 0, collectgarbage('count') > 0}",
        "return setmetatable({}, {__index = function() return 9 end}).x",
        "return tostring(nil) .. tostring(true)",
        "return tonumber('0x10')",
        "return tonumber('  12  ')",
        "return #KEYS",
        "local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(string) do t[#t + 1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(math) do t[#t + 1] = k end table.sort(t) return t",
        // Every table a script can reach for writing is read-only, existing keys included.
        "KEYS = {}",
        "ARGV = nil",
        "function foo() end",
        "_G.KEYS = 1",
        "getmetatable('').__index = nil",
        "getmetatable('').x = 1",
        "setmetatable(getmetatable(''), nil)",
        "local t = getmetatable(_G) t.__index = nil return 1",
        "setmetatable(_G, nil)",
        "rawset(string, 'len', nil)",
        "local f = loadstring('KEYS = 5') f() return 1",
        "local f = loadstring('return KEYS') return type(f())",
        "return {type(getmetatable(_G)), type(getmetatable(''))}",
        "return tostring(getmetatable('').__index == string)",
        "return {('abc'):upper(), ('x'):rep(3), #('abcd'):sub(2)}",
        "return rawget(_G, 'KEYS') == KEYS",
        "return type(rawget(_G, 'redis'))",
        "return type(rawget(string, 'len'))",
        "return coroutine.wrap(function() x_in_coroutine = 1 end)()",
    ];
    for s in sandbox {
        cases.push(case(s));
    }
    // A global set by one script is not seen by the next.
    cases.push(case("rawset(_G, 'leak', 1) return 1"));
    cases.push(case("return rawget(_G, 'leak')"));
    cases.push(case("string.len = nil return 1"));
    cases.push(case("return string.len('abc')"));
    cases.push(case("pcall(function() KEYS = {} end) return #KEYS"));
    cases.push(case(
        "pcall(function() getmetatable('').__index = {} end) return ('a'):upper()",
    ));

    // Read-only scripts, shebangs, EVALSHA, SCRIPT.
    let w = "return redis.call('set', 'a', 'b')";
    cases.push(raw(&["EVAL_RO", w, "0"]));
    cases.push(raw(&["EVAL_RO", "return redis.call('get', 'str')", "0"]));
    // PFCOUNT and SPUBLISH may replicate (a flag Redis's COMMAND INFO hides): refused in
    // read-only scripts.
    cases.push(raw(&["EVAL_RO", "return redis.call('pfcount', 'h')", "0"]));
    cases.push(raw(&[
        "EVAL_RO",
        "return redis.call('spublish', 'c', 'm')",
        "0",
    ]));
    cases.push(raw(&[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('pfcount', 'h')",
        "0",
    ]));
    cases.push(raw(&["EVAL", "return redis.call('pfadd', 'h', 'a')", "0"]));
    cases.push(raw(&["EVAL", "return redis.call('pfcount', 'h')", "0"]));
    cases.push(raw(&[
        "EVAL_RO",
        "return redis.call('publish', 'c', 'm')",
        "0",
    ]));
    cases.push(raw(&["EVAL", &format!("#!lua flags=no-writes\n{w}"), "0"]));
    cases.push(raw(&[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('get','str')",
        "0",
    ]));
    cases.push(raw(&["EVAL", &format!("#!lua\n{w}"), "0"]));
    cases.push(raw(&["EVAL_RO", &format!("#!lua\n{w}"), "0"]));
    cases.push(raw(&[
        "EVAL",
        "#!lua flags=allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
        "0",
    ]));
    cases.push(raw(&["EVAL", "#!lua flags=bogus\nreturn 1", "0"]));
    cases.push(raw(&["EVAL", "#!lua bogus=1\nreturn 1", "0"]));
    cases.push(raw(&["EVAL", "#!python\nreturn 1", "0"]));
    cases.push(raw(&["EVAL", "#!lua", "0"]));
    cases.push(raw(&["EVAL", "#!lua\nerror('line two')", "0"]));
    cases.push(raw(&["EVAL", "#!lua\n\nretur 1", "0"]));
    cases.push(raw(&[
        "EVALSHA",
        "0123456789012345678901234567890123456789",
        "0",
    ]));
    cases.push(raw(&["EVALSHA", "short", "0"]));
    cases.push(raw(&[
        "EVALSHA_RO",
        "0123456789012345678901234567890123456789",
        "0",
    ]));
    cases.push(raw(&["SCRIPT", "LOAD", "return 'loaded'"]));
    cases.push(raw(&["EVALSHA", &sha1("return 'loaded'"), "0"]));
    cases.push(raw(&[
        "EVALSHA",
        &sha1("return 'loaded'").to_uppercase(),
        "0",
    ]));
    cases.push(raw(&["EVALSHA_RO", &sha1("return 'loaded'"), "0"]));
    cases.push(raw(&[
        "SCRIPT",
        "EXISTS",
        &sha1("return 'loaded'"),
        "ffffffffffffffffffffffffffffffffffffffff",
    ]));
    cases.push(raw(&["SCRIPT", "LOAD", "retur 1"]));
    cases.push(raw(&["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"]));
    cases.push(raw(&["SCRIPT", "LOAD"]));
    cases.push(raw(&["SCRIPT", "FLUSH", "BOGUS"]));
    cases.push(raw(&["SCRIPT", "FLUSH", "SYNC", "X"]));
    cases.push(raw(&["SCRIPT", "FLUSH", "ASYNC"]));
    cases.push(raw(&["SCRIPT", "EXISTS", &sha1("return 'loaded'")]));
    cases.push(raw(&["EVALSHA", &sha1("return 'loaded'"), "0"]));
    cases.push(raw(&["SCRIPT", "KILL"]));
    cases.push(raw(&["SCRIPT", "NOSUCH"]));
    cases.push(raw(&["SCRIPT"]));
    cases.push(raw(&["EVAL", "return 'cached'", "0"]));
    cases.push(raw(&["SCRIPT", "EXISTS", &sha1("return 'cached'")]));
    cases.push(raw(&["SCRIPT", "FLUSH"]));
    cases
}

fn sha1(s: &str) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run_corpus(resp3: bool) -> usize {
    let Some(pair) = Pair::start(&[]) else {
        return 0;
    };
    let mut p = RawConn::connect(pair.picket.port);
    let mut r = RawConn::connect(pair.redis.port);
    if resp3 {
        p.cmd(&["HELLO", "3"]);
        r.cmd(&["HELLO", "3"]);
    }
    let cases = corpus();
    let mut failures = Vec::new();
    for c in &cases {
        for s in std::iter::once(vec!["FLUSHALL".to_string()]).chain(c.setup.iter().cloned()) {
            let (a, b) = (p.cmd(&s), r.cmd(&s));
            assert_eq!(a, b, "setup {s:?}");
        }
        eprintln!("case {:?}", c.cmd);
        let (a, b) = (p.cmd(&c.cmd), r.cmd(&c.cmd));
        if a != b {
            failures.push(format!("{:?}\n    picket: {a:?}\n    redis:  {b:?}", c.cmd));
        }
    }
    // Debug builds check after every script that no protected table changed (the sandbox
    // has no hole): the check logs when it had to undo something.
    let log = std::fs::read_to_string(&pair.picket.log).unwrap_or_default();
    assert!(
        !log.contains("changed a protected table"),
        "a script got through the sandbox:\n{}",
        log.lines()
            .filter(|l| l.contains("protected table"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ from Redis 7.0 (resp3={resp3}):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Both still serve.
    assert_eq!(p.cmd(&["PING"]), r.cmd(&["PING"]));
    cases.len()
}

#[test]
fn corpus_is_large() {
    assert!(corpus().len() >= 300, "{}", corpus().len());
}

#[test]
fn differential_scripts_resp2() {
    run_corpus(false);
}

#[test]
fn differential_scripts_resp3() {
    run_corpus(true);
}
